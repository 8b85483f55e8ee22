from __future__ import annotations

from datetime import timedelta

import httpx

from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from tests.conftest import PANEL_ORIGIN, make_client
from tests.factories import make_account
from tests.login.flow import sign_in


async def _signed_in(ctx: ServiceContext, client: httpx.AsyncClient, login: str = "sam") -> str:
    await make_account(ctx, login=login)
    verified = await sign_in(client, ctx, login)
    return verified.cookies["__Host-authsvc_session"]


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_session_works_with_the_cookie_and_with_a_bearer_token(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    token = await _signed_in(ctx, client)
    by_cookie = await client.get("/session")  # the client keeps the cookie
    assert by_cookie.status_code == 200
    assert by_cookie.json()["account"]["login"] == "sam"
    async with make_client(ctx) as other:
        assert (await other.get("/session", headers=_bearer(token))).status_code == 200
        assert (await other.get("/session")).status_code == 401


async def test_without_a_session_the_answer_is_401_not_authenticated(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/session", headers=_bearer("made-up"))
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


async def test_idle_session_expires_after_thirty_minutes(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    token = await _signed_in(ctx, client)
    clock.advance(timedelta(minutes=30, seconds=1))
    assert (await client.get("/session", headers=_bearer(token))).status_code == 401


async def test_activity_slides_the_idle_timeout(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    token = await _signed_in(ctx, client)
    for _ in range(3):
        clock.advance(timedelta(minutes=20))
        assert (await client.get("/session", headers=_bearer(token))).status_code == 200


async def test_session_ends_after_twelve_hours_however_active(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    token = await _signed_in(ctx, client)
    for _ in range(35):  # every 20 minutes for 11h40m
        clock.advance(timedelta(minutes=20))
        assert (await client.get("/session", headers=_bearer(token))).status_code == 200
    clock.advance(timedelta(minutes=20, seconds=1))
    assert (await client.get("/session", headers=_bearer(token))).status_code == 401


async def test_logout_revokes_the_session_on_the_server_and_clears_the_cookie(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    token = await _signed_in(ctx, client)
    response = await client.post("/logout", headers={"origin": PANEL_ORIGIN})
    assert response.status_code == 204
    assert 'authsvc_session=""' in response.headers["set-cookie"]
    async with make_client(ctx) as other:
        assert (await other.get("/session", headers=_bearer(token))).status_code == 401


async def test_each_login_gets_a_new_token(ctx: ServiceContext, client: httpx.AsyncClient) -> None:
    first = await _signed_in(ctx, client, "renew")
    second = (await sign_in(client, ctx, "renew")).cookies["__Host-authsvc_session"]
    assert first != second and len(first) >= 22  # at least 128 bits, base64url


async def test_disabled_account_loses_its_sessions(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    from authsvc.accounts.service import set_disabled

    token = await _signed_in(ctx, client, "later-off")
    async with ctx.db.transaction() as session:
        await set_disabled(session, "later-off", disabled=True, now=ctx.clock.now())
    assert (await client.get("/session", headers=_bearer(token))).status_code == 401


# --- CSRF and CORS --------------------------------------------------------------------


async def test_cookie_request_from_a_foreign_origin_is_refused(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    await _signed_in(ctx, client)
    response = await client.post("/logout", headers={"origin": "https://evil.example"})
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_rejected"
    assert (await client.get("/session")).status_code == 200  # still signed in


async def test_cookie_request_without_origin_or_referer_is_refused(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    await _signed_in(ctx, client)
    assert (await client.post("/logout")).status_code == 403


async def test_referer_from_the_panel_is_accepted_when_origin_is_missing(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    await _signed_in(ctx, client)
    response = await client.post("/logout", headers={"referer": f"{PANEL_ORIGIN}/account"})
    assert response.status_code == 204


async def test_origin_null_is_refused_outright_whatever_the_referer(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    """`Origin: null` (a sandboxed frame, a data: page) is refused, even with a Referer
    that would pass on its own."""
    await _signed_in(ctx, client)
    for headers in (
        {"origin": "null", "referer": f"{PANEL_ORIGIN}/account"},
        {"origin": "null"},
    ):
        response = await client.post("/logout", headers=headers)
        assert response.status_code == 403
        assert response.json()["code"] == "csrf_rejected"
    assert (await client.get("/session")).status_code == 200  # still signed in
    ok = await client.post("/logout", headers={"referer": f"{PANEL_ORIGIN}/account"})
    assert ok.status_code == 204  # the same Referer alone still passes


async def test_bearer_requests_need_no_origin(ctx: ServiceContext) -> None:
    async with make_client(ctx) as http:
        token = await _signed_in(ctx, http)
    async with make_client(ctx) as other:
        assert (await other.post("/logout", headers=_bearer(token))).status_code == 204


async def test_cors_allows_exactly_the_configured_origin_with_credentials(
    client: httpx.AsyncClient,
) -> None:
    preflight = {"access-control-request-method": "POST"}
    allowed = await client.options("/login", headers={"origin": PANEL_ORIGIN, **preflight})
    assert allowed.headers["access-control-allow-origin"] == PANEL_ORIGIN
    assert allowed.headers["access-control-allow-credentials"] == "true"
    foreign = await client.options(
        "/login", headers={"origin": "https://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in foreign.headers


async def test_dev_mode_on_plain_http_uses_the_plain_cookie(ctx: ServiceContext) -> None:
    await make_account(ctx, login="local")
    async with make_client(ctx, base_url="http://localhost:8000") as http:
        verified = await sign_in(http, ctx, "local")
        cookie = verified.headers["set-cookie"]
        assert cookie.startswith("authsvc_session=") and "secure" not in cookie.lower()
        assert (await http.get("/session")).status_code == 200
