""" "This wasn't me": the link's GET changes nothing, its POST secures the account once."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from authsvc.protection.models import SecurityEvent
from tests.conftest import PANEL_ORIGIN, make_client
from tests.factories import make_account
from tests.login.flow import sign_in, start_login
from tests.protection.helpers import not_me_path, sent
from tests.support.helpers import generate, support_key, verify
from tests.util import auth_events

ORIGIN = {"origin": PANEL_ORIGIN}


async def _signed_in_with_code(
    ctx: ServiceContext, client: httpx.AsyncClient, login: str
) -> tuple[str, str]:
    """Sign in and generate a code; the code and the login e-mail's link path."""
    account = await make_account(ctx, login=login)
    await sign_in(client, ctx, login)
    code = (await generate(client, ORIGIN)).json()["code"]
    return code, await not_me_path(ctx, "login_confirmation", account.id)


async def test_opening_the_link_only_shows_a_button(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    code, path = await _signed_in_with_code(ctx, client, "scanned")
    key = await support_key(ctx)
    for _ in range(3):  # a mail scanner, a link preview, the customer
        page = await client.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<form method="post"' in page.text and "<button" in page.text
        assert "content-security-policy" in page.headers
    assert (await client.get("/session")).status_code == 200
    assert (await verify(client, key, "scanned", code)).json()["valid"] is True
    assert (await start_login(client, "scanned")).status_code == 200


async def test_confirming_secures_everything_and_blocks_login_until_a_reset(
    ctx: ServiceContext, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="authsvc.events")
    code, path = await _signed_in_with_code(ctx, client, "victim")
    key = await support_key(ctx)
    async with make_client(ctx, ip="198.51.100.66") as attacker:
        await sign_in(attacker, ctx, "victim")

        done = await client.post(path)
        assert done.status_code == 200 and "<form" not in done.text
        for event in ("auth_code_revoked", "not_me_confirmed"):
            [record] = auth_events(caplog.records, event)
            assert record.ip == "203.0.113.7", event  # type: ignore[attr-defined]

        assert (await attacker.get("/session")).status_code == 401
        assert (await client.get("/session")).status_code == 401
        assert (await verify(client, key, "victim", code)).json() == {
            "valid": False,
            "reason": "no_active_code",
        }
        # The right password no longer finishes a login, from anywhere.
        refused = await start_login(attacker, "victim")
        assert refused.status_code == 403
        assert refused.json()["code"] == "password_reset_required"
        # A wrong one still looks like any wrong password.
        assert (await start_login(attacker, "victim", "not the password")).status_code == 401

    assert (await sent(ctx, "not_me_done"))[0]["login"] == "victim"
    async with ctx.db.transaction() as session:
        events = (await session.execute(select(SecurityEvent))).scalars().all()
    assert [(e.kind, e.ip) for e in events] == [("not_me", "203.0.113.7")]
    assert events[0].detail.startswith("login ")


async def test_a_login_challenge_opened_before_cannot_finish_after(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    _, path = await _signed_in_with_code(ctx, client, "midway")
    started = await start_login(client, "midway")
    from tests.login.flow import read_otp

    challenge_id = started.json()["challenge_id"]
    otp = await read_otp(ctx, challenge_id)
    assert (await client.post(path)).status_code == 200
    finished = await client.post("/login/verify", json={"challenge_id": challenge_id, "code": otp})
    assert finished.status_code == 403
    assert finished.json()["code"] == "password_reset_required"


async def test_the_code_generated_e_mail_carries_its_own_link(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx, login="coder")
    await sign_in(client, ctx, "coder")
    await generate(client, ORIGIN)
    path = await not_me_path(ctx, "auth_code_generated", account.id)
    assert path != await not_me_path(ctx, "login_confirmation", account.id)
    assert (await client.post(path)).status_code == 200
    async with ctx.db.transaction() as session:
        event = (await session.execute(select(SecurityEvent))).scalar_one()
    assert event.detail.startswith("auth_code ")


async def test_a_link_works_once(ctx: ServiceContext, client: httpx.AsyncClient) -> None:
    _, path = await _signed_in_with_code(ctx, client, "twice")
    assert (await client.post(path)).status_code == 200
    again = await client.post(path)
    assert again.status_code == 410 and "already used" in again.text
    assert (await client.get(path)).status_code == 410
    assert len(await sent(ctx, "not_me_done")) == 1


async def test_an_expired_link_gets_a_clear_page(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    _, path = await _signed_in_with_code(ctx, client, "late")
    clock.advance(timedelta(days=7, seconds=1))
    for answer in (await client.get(path), await client.post(path)):
        assert answer.status_code == 410 and "expired" in answer.text
    assert await sent(ctx, "not_me_done") == []


@pytest.mark.parametrize(
    "token", ["forged", "x" * 43, "%00", "a" * 5000, "<script>alert(1)</script>"]
)
async def test_a_forged_link_gets_a_clear_page(client: httpx.AsyncClient, token: str) -> None:
    for answer in (await client.get(f"/not-me/{token}"), await client.post(f"/not-me/{token}")):
        assert answer.status_code in (404, 413)
        if answer.status_code == 404 and answer.headers["content-type"].startswith("text/html"):
            assert "not valid" in answer.text and "<script>alert" not in answer.text


async def test_the_page_speaks_polish_to_a_polish_browser(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    _, path = await _signed_in_with_code(ctx, client, "polka")
    page = await client.get(path, headers={"accept-language": "pl-PL,pl;q=0.9"})
    assert 'lang="pl"' in page.text and "Zabezpiecz moje konto" in page.text


async def test_a_password_reset_lifts_the_block(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    _, path = await _signed_in_with_code(ctx, client, "recovered")
    await client.post(path)
    assert (await start_login(client, "recovered")).status_code == 403
    reset_id = (await client.post("/password/reset", json={"login": "recovered"})).json()
    code = (await sent(ctx, "password_reset_code"))[-1]["code"]
    new = "my new and better passphrase"
    body = {**reset_id, "code": code, "new_password": new}
    assert (await client.post("/password/reset/confirm", json=body)).status_code == 204
    assert (await start_login(client, "recovered", new)).status_code == 200
