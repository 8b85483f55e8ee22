from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from authsvc.auth_codes.models import AuthCode
from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from authsvc.delivery.models import OutboxMessage
from tests.conftest import PANEL_ORIGIN, make_client, with_settings
from tests.factories import make_account
from tests.support.helpers import bearer_session, generate, new_code, support_key, verify
from tests.test_http_basics import assert_problem


async def test_generating_answers_201_with_a_six_digit_code_valid_for_an_hour(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    me = await bearer_session(ctx, await make_account(ctx))
    response = await generate(client, me)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"code", "created_at", "expires_at"}
    assert re.fullmatch(r"\d{6}", body["code"])
    assert response.headers["cache-control"] == "no-store"
    created = ctx.clock.now().fromisoformat(body["created_at"])
    expires = ctx.clock.now().fromisoformat(body["expires_at"])
    assert expires - created == timedelta(hours=1)


async def test_the_code_is_stored_only_as_an_hmac(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    code = await new_code(client, await bearer_session(ctx, account))
    async with ctx.db.transaction() as session:
        row = (await session.execute(select(AuthCode))).scalar_one()
    assert code.encode() not in row.code_mac
    assert row.code_mac == ctx.keyring.sign("auth-code", str(account.id), code)


async def test_generating_requires_the_password_even_in_a_valid_session(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    me = await bearer_session(ctx, await make_account(ctx))
    assert_problem(
        await generate(client, me, password="not the password"), 401, "invalid_credentials"
    )
    assert (await client.get("/auth-codes/current", headers=me)).json() == {"active": False}


async def test_wrong_passwords_here_count_toward_the_login_throttling(
    ctx: ServiceContext,
) -> None:
    strict = with_settings(ctx, throttle_free_failures=1, throttle_base_delay=timedelta(minutes=1))
    me = await bearer_session(ctx, await make_account(ctx))
    async with make_client(strict) as client:
        assert (await generate(client, me, password="wrong one")).status_code == 401
        assert (await generate(client, me, password="wrong two")).status_code == 401
        refused = await generate(client, me)  # the right password, but throttled now
    body = assert_problem(refused, 429, "too_many_attempts")
    assert int(refused.headers["retry-after"]) >= 1
    assert int(str(body["retry_after"])) >= 1


async def test_generating_needs_a_session(client: httpx.AsyncClient) -> None:
    assert_problem(
        await client.post("/auth-codes", json={"password": "x"}), 401, "not_authenticated"
    )


async def test_a_cookie_session_needs_an_allowed_origin(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    me = await bearer_session(ctx, await make_account(ctx))
    token = me["authorization"].removeprefix("Bearer ")
    client.cookies.set("__Host-authsvc_session", token)
    body = {"password": "correct horse battery staple"}
    refused = await client.post(
        "/auth-codes", json=body, headers={"origin": "https://evil.example"}
    )
    assert_problem(refused, 403, "csrf_rejected")
    accepted = await client.post("/auth-codes", json=body, headers={"origin": PANEL_ORIGIN})
    assert accepted.status_code == 201, accepted.text


async def test_a_new_code_kills_the_old_one(ctx: ServiceContext, client: httpx.AsyncClient) -> None:
    account = await make_account(ctx)
    me = await bearer_session(ctx, account)
    key = await support_key(ctx)
    old = await new_code(client, me)
    new = await new_code(client, me)
    if old != new:  # one in a million they coincide, and then the old one is the new one
        assert (await verify(client, key, account.login, old)).json() == {
            "valid": False,
            "reason": "mismatch",
        }
    assert (await verify(client, key, account.login, new)).json()["valid"] is True


async def test_one_active_code_per_account_even_when_generated_concurrently(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    me = await bearer_session(ctx, await make_account(ctx))
    # As many as the password back-off admits at once: attempts in flight are reserved
    # as if they failed, so a fifth concurrent one would meet the back-off (429).
    racers = ctx.settings.throttle_free_failures + 1
    responses = await asyncio.gather(*(generate(client, me) for _ in range(racers)))
    assert [r.status_code for r in responses] == [201] * racers
    async with ctx.db.transaction() as session:
        active = select(func.count()).where(AuthCode.revoked_at.is_(None))
        assert (await session.execute(active)).scalar_one() == 1


async def test_generating_writes_the_notification_email_without_the_code(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx, email="kim@example.com")
    code = await new_code(client, await bearer_session(ctx, account))
    async with ctx.db.transaction() as session:
        messages = (await session.execute(select(OutboxMessage))).scalars().all()
    [message] = [m for m in messages if m.template == "auth_code_generated"]
    assert message.channel == "email"
    assert message.recipient == "kim@example.com"
    assert message.account_id == account.id
    assert message.params is not None
    assert set(message.params) == {
        "login",
        "time_utc",
        "time_local",
        "expires_utc",
        "expires_local",
        "ip",
    }
    assert message.params["ip"] == "203.0.113.7"
    assert code not in str(message.params)
    assert message.sealed_params is None or code.encode() not in message.sealed_params


async def test_generation_is_rate_limited_per_account(ctx: ServiceContext) -> None:
    limited = with_settings(ctx, auth_code_generation_limit=2)
    me = await bearer_session(ctx, await make_account(ctx))
    other = await bearer_session(ctx, await make_account(ctx))
    async with make_client(limited) as client:
        assert (await generate(client, me)).status_code == 201
        assert (await generate(client, me)).status_code == 201
        refused = await generate(client, me)
        assert (await generate(client, other)).status_code == 201
    assert_problem(refused, 429, "too_many_attempts")
    assert int(refused.headers["retry-after"]) > 0


async def test_the_limit_counts_codes_generated_not_wrong_passwords(
    ctx: ServiceContext, clock: MovableClock
) -> None:
    limited = with_settings(ctx, auth_code_generation_limit=2)
    me = await bearer_session(ctx, await make_account(ctx))
    async with make_client(limited) as client:
        assert (await generate(client, me, password="not it")).status_code == 401
        assert (await generate(client, me)).status_code == 201
        clock.advance(timedelta(minutes=20))
        assert (await generate(client, me)).status_code == 201
        refused = await generate(client, me)
        assert_problem(refused, 429, "too_many_attempts")
        # The first code of the window leaves it 40 minutes from now.
        assert refused.headers["retry-after"] == str(40 * 60)
        clock.advance(timedelta(minutes=20))
        assert (await client.get("/session", headers=me)).status_code == 200  # not idle
        clock.advance(timedelta(minutes=20))
        assert (await generate(client, me)).status_code == 201
