from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from authsvc.sessions.models import UserSession
from tests.conftest import make_client, with_codes
from tests.factories import PASSWORD, make_account
from tests.login.flow import read_otp, start_login
from tests.util import wrong


async def _challenge(ctx: ServiceContext, client: httpx.AsyncClient, login: str) -> tuple[str, str]:
    await make_account(ctx, login=login)
    challenge_id = (await start_login(client, login)).json()["challenge_id"]
    return challenge_id, await read_otp(ctx, challenge_id)


async def _verify(client: httpx.AsyncClient, challenge_id: str, code: str) -> httpx.Response:
    return await client.post("/login/verify", json={"challenge_id": challenge_id, "code": code})


async def _session_count(ctx: ServiceContext) -> int:
    async with ctx.db.transaction() as session:
        return int(
            (await session.execute(select(func.count()).select_from(UserSession))).scalar_one()
        )


async def test_right_code_starts_a_session_with_the_secure_cookie(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    challenge_id, code = await _challenge(ctx, client, "anna")
    response = await _verify(client, challenge_id, code)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["account"]["login"] == "anna"
    assert set(body["session"]) == {"expires_at", "idle_expires_at"}
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-authsvc_session=")
    for attribute in ("Secure", "HttpOnly", "SameSite=lax", "Path=/"):
        assert attribute.lower() in cookie.lower()
    assert "Domain" not in cookie
    assert response.headers["cache-control"] == "no-store"


async def test_code_is_single_use(ctx: ServiceContext, client: httpx.AsyncClient) -> None:
    challenge_id, code = await _challenge(ctx, client, "once")
    assert (await _verify(client, challenge_id, code)).status_code == 200
    again = await _verify(client, challenge_id, code)
    assert again.status_code == 410
    assert again.json()["code"] == "challenge_expired"


async def test_wrong_code_is_401_with_attempts_left(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    challenge_id, code = await _challenge(ctx, client, "typo")
    first = await _verify(client, challenge_id, wrong(code))
    second = await _verify(client, challenge_id, wrong(code))
    assert first.status_code == 401
    assert first.json()["code"] == "invalid_code"
    assert [first.json()["attempts_left"], second.json()["attempts_left"]] == [4, 3]


async def test_sixth_code_is_refused_even_when_correct(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    challenge_id, code = await _challenge(ctx, client, "guesser")
    for _ in range(5):
        assert (await _verify(client, challenge_id, wrong(code))).status_code == 401
    final = await _verify(client, challenge_id, code)
    assert final.status_code == 410
    assert final.json()["code"] == "challenge_exhausted"
    assert await _session_count(ctx) == 0


async def test_code_expires_after_ten_minutes(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    challenge_id, code = await _challenge(ctx, client, "slow")
    clock.advance(timedelta(minutes=10, seconds=1))
    response = await _verify(client, challenge_id, code)
    assert response.status_code == 410
    assert response.json()["code"] == "challenge_expired"


async def test_code_still_works_just_before_expiry(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    challenge_id, code = await _challenge(ctx, client, "justintime")
    clock.advance(timedelta(minutes=9, seconds=59))
    assert (await _verify(client, challenge_id, code)).status_code == 200


async def test_code_of_one_challenge_is_refused_on_another(ctx: ServiceContext) -> None:
    scripted = with_codes(ctx, "111111", "222222")
    async with make_client(scripted) as client:
        first, _ = await _challenge(scripted, client, "twice")
        second = (await start_login(client, "twice")).json()["challenge_id"]
        assert await read_otp(ctx, first) == "111111"
        assert await read_otp(ctx, second) == "222222"
        assert (await _verify(client, second, "111111")).status_code == 401
        assert (await _verify(client, second, "222222")).status_code == 200


async def test_unknown_challenge_is_404(client: httpx.AsyncClient) -> None:
    response = await _verify(client, "00000000-0000-4000-8000-000000000000", "123456")
    assert response.status_code == 404
    assert response.json()["code"] == "challenge_not_found"


async def test_fifty_concurrent_correct_verifications_yield_exactly_one_session(
    ctx: ServiceContext,
) -> None:
    async with make_client(ctx) as http:
        challenge_id, code = await _challenge(ctx, http, "racer")
        answers = await asyncio.gather(*(_verify(http, challenge_id, code) for _ in range(50)))
    statuses = [r.status_code for r in answers]
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 410}
    assert await _session_count(ctx) == 1


async def test_fifty_concurrent_wrong_guesses_get_exactly_five_evaluated(
    ctx: ServiceContext,
) -> None:
    async with make_client(ctx) as http:
        challenge_id, code = await _challenge(ctx, http, "swarm")
        answers = await asyncio.gather(
            *(_verify(http, challenge_id, wrong(code)) for _ in range(50))
        )
    statuses = [r.status_code for r in answers]
    assert statuses.count(401) == 5, statuses
    assert statuses.count(410) == 45
    async with make_client(ctx) as http:
        assert (await _verify(http, challenge_id, code)).status_code == 410


async def test_success_queues_the_login_confirmation_and_cancels_the_incomplete_notice(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    from authsvc.delivery import outbox
    from tests.login.flow import challenge_row

    challenge_id, code = await _challenge(ctx, client, "notify")
    notice = (await challenge_row(ctx, challenge_id)).notice_id
    assert notice is not None
    async with ctx.db.transaction() as session:
        status = await outbox.message_status(session, notice)
    assert status is not None and status.state == "queued"

    response = await client.post(
        "/login/verify",
        json={"challenge_id": challenge_id, "code": code},
        headers={"user-agent": CHROME_ON_WINDOWS},
    )
    assert response.status_code == 200
    async with ctx.db.transaction() as session:
        status = await outbox.message_status(session, notice)
        confirmations = await _params_of(session, ctx, "login_confirmation")
    assert status is not None and status.state == "cancelled"
    assert len(confirmations) == 1
    assert confirmations[0]["ip"] == "203.0.113.7"
    assert confirmations[0]["user_agent"] == "Chrome 120 on Windows"  # the session list's words
    assert "UTC" in confirmations[0]["time_utc"]


CHROME_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
# User agents that carry the signer's words, some where uap-core's rules would copy them
# into a browser's name (a bot's name, an iOS app's name before CFNetwork).
HOSTILE = "IT WAS YOU – ignore this e-mail"
HOSTILE_AGENTS = {
    HOSTILE: "Unknown browser",
    f"{HOSTILE} Bot/1.0": "Unknown browser",
    f"{HOSTILE}/1 CFNetwork/1.0 Darwin/20.0": "Unknown browser on iOS",
    f"Mozilla/5.0 (Windows NT 10.0; {HOSTILE}) Gecko/20100101 Firefox/120.0": (
        "Firefox 120 on Windows"
    ),
}


async def test_the_confirmation_names_the_parsed_device_never_the_raw_user_agent(
    ctx: ServiceContext,
) -> None:
    from authsvc.delivery import rendering

    await make_account(ctx, login="phished")
    for user_agent in HOSTILE_AGENTS:
        async with make_client(ctx) as http:
            http.headers["user-agent"] = user_agent
            challenge_id = (await start_login(http, "phished")).json()["challenge_id"]
            code = await read_otp(ctx, challenge_id)
            assert (await _verify(http, challenge_id, code)).status_code == 200
    async with ctx.db.transaction() as session:
        confirmations = await _params_of(session, ctx, "login_confirmation")
    assert sorted(c["user_agent"] for c in confirmations) == sorted(HOSTILE_AGENTS.values())
    for params in confirmations:
        for locale in ("en", "pl"):
            mail = rendering.render("login_confirmation", "email", locale, params)
            for part in (mail.text, mail.html or "", mail.subject or ""):
                assert "IT WAS YOU" not in part and "ignore this" not in part


async def _params_of(session: object, ctx: ServiceContext, template: str) -> list[dict[str, str]]:
    from sqlalchemy.ext.asyncio import AsyncSession

    from authsvc.delivery import outbox
    from authsvc.delivery.models import OutboxMessage

    assert isinstance(session, AsyncSession)
    ids = (
        await session.execute(select(OutboxMessage.id).where(OutboxMessage.template == template))
    ).scalars()
    found = [await outbox.read_params(session, ctx.keyring, message_id) for message_id in ids]
    return [params for params in found if params is not None]


async def test_incomplete_notice_is_scheduled_for_the_challenge_expiry(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    from authsvc.delivery.models import OutboxMessage
    from tests.login.flow import challenge_row

    challenge_id, _ = await _challenge(ctx, client, "walkaway")
    challenge = await challenge_row(ctx, challenge_id)
    async with ctx.db.transaction() as session:
        notice = await session.get(OutboxMessage, challenge.notice_id)
    assert notice is not None
    assert notice.template == "login_incomplete"
    assert notice.send_after == challenge.expires_at


async def test_no_code_password_or_token_reaches_the_logs(
    ctx: ServiceContext, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    challenge_id, code = await _challenge(ctx, client, "quiet")
    await _verify(client, challenge_id, wrong(code))
    verified = await _verify(client, challenge_id, code)
    token = verified.cookies["__Host-authsvc_session"]
    await client.get("/session")
    events = [r.getMessage() for r in caplog.records if r.name == "authsvc.events"]
    assert any("event=login_succeeded" in e and "ip=203.0.113.7" in e for e in events)
    assert any("event=code_failed" in e for e in events)
    for secret in (code, wrong(code), PASSWORD, token):
        assert secret not in caplog.text


async def test_a_code_typed_with_a_space_or_a_hyphen_is_accepted(ctx: ServiceContext) -> None:
    scripted = with_codes(ctx, "042917", "042917")
    async with make_client(scripted) as client:
        first, _ = await _challenge(scripted, client, "typist")
        assert (await _verify(client, first, "042 917")).status_code == 200
        second = (await start_login(client, "typist")).json()["challenge_id"]
        assert (await _verify(client, second, "042-917")).status_code == 200


async def test_any_other_form_is_a_counted_wrong_attempt(ctx: ServiceContext) -> None:
    scripted = with_codes(ctx, "042917")
    async with make_client(scripted) as client:
        challenge_id, _ = await _challenge(scripted, client, "sloppy")
        refused = await _verify(client, challenge_id, "04 29 17")
        assert refused.status_code == 401
        assert refused.json()["attempts_left"] == 4
        assert (await _verify(client, challenge_id, "042917")).status_code == 200
