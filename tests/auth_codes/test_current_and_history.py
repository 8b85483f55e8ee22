from __future__ import annotations

import logging
from datetime import timedelta

import httpx
import pytest

from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from tests.factories import PASSWORD, make_account
from tests.support.helpers import bearer_session, generate, new_code, support_key, verify
from tests.test_http_basics import assert_problem
from tests.util import auth_events, wrong


async def test_current_shows_the_live_code_but_never_the_code(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    me = await bearer_session(ctx, account)
    assert (await client.get("/auth-codes/current", headers=me)).json() == {"active": False}
    generated = (await generate(client, me)).json()
    key = await support_key(ctx)
    await verify(client, key, account.login, generated["code"])
    await verify(client, key, account.login, generated["code"])
    await verify(client, key, account.login, wrong(generated["code"]))
    current = await client.get("/auth-codes/current", headers=me)
    assert current.status_code == 200
    assert current.json() == {
        "active": True,
        "created_at": generated["created_at"],
        "expires_at": generated["expires_at"],
        "verifications": 2,
    }
    assert generated["code"] not in current.text
    assert current.headers["cache-control"] == "no-store"


async def test_current_is_inactive_after_the_hour(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    me = await bearer_session(ctx, await make_account(ctx))
    await new_code(client, me)
    for _ in range(2):  # keep the session alive: its idle timeout is 30 minutes
        clock.advance(timedelta(minutes=29, seconds=59))
        assert (await client.get("/auth-codes/current", headers=me)).json()["active"] is True
    clock.advance(timedelta(seconds=2))
    assert (await client.get("/auth-codes/current", headers=me)).json() == {"active": False}


async def test_each_customer_sees_only_their_own_code(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    me = await bearer_session(ctx, await make_account(ctx))
    other = await bearer_session(ctx, await make_account(ctx))
    await new_code(client, me)
    assert (await client.get("/auth-codes/current", headers=other)).json() == {"active": False}
    assert (await client.delete("/auth-codes/current", headers=other)).status_code == 204
    assert (await client.get("/auth-codes/current", headers=me)).json()["active"] is True


async def test_every_verification_is_in_the_customers_history_newest_first(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    account = await make_account(ctx)
    me = await bearer_session(ctx, account)
    someone_else = await make_account(ctx)
    key = await support_key(ctx, name="phone-desk")
    chat = await support_key(ctx, name="live-chat")
    await verify(client, key, account.login, "000000", purpose="before any code")
    code = await new_code(client, me)
    clock.advance(timedelta(seconds=1))
    await verify(client, key, account.login, code, purpose="ticket 17")
    clock.advance(timedelta(seconds=1))
    await verify(client, chat, account.login.upper(), wrong(code), purpose=None)
    clock.advance(timedelta(seconds=1))
    await verify(client, chat, str(account.id), code, purpose="payment date")
    await verify(client, key, someone_else.login, "123456", purpose="not theirs")

    response = await client.get("/auth-codes/history", headers=me)
    assert response.status_code == 200
    history = response.json()
    assert [(h["result"], h["purpose"], h["support_client"]) for h in history] == [
        ("valid", "payment date", "live-chat"),
        ("mismatch", None, "live-chat"),
        ("valid", "ticket 17", "phone-desk"),
        ("no_active_code", "before any code", "phone-desk"),
    ]
    assert all(set(h) == {"verified_at", "result", "purpose", "support_client"} for h in history)
    assert code not in response.text

    limited = await client.get("/auth-codes/history", params={"limit": 2}, headers=me)
    assert [h["purpose"] for h in limited.json()] == ["payment date", None]
    too_many = await client.get("/auth-codes/history", params={"limit": 1000}, headers=me)
    assert_problem(too_many, 422, "invalid_request")


async def test_history_and_current_need_a_session(client: httpx.AsyncClient) -> None:
    for path in ("/auth-codes/current", "/auth-codes/history"):
        assert_problem(await client.get(path), 401, "not_authenticated")
    assert_problem(await client.delete("/auth-codes/current"), 401, "not_authenticated")


async def test_no_code_key_or_password_in_any_log(
    ctx: ServiceContext, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    account = await make_account(ctx)
    me = await bearer_session(ctx, account)
    key = await support_key(ctx)
    code = await new_code(client, me)
    await generate(client, me, password="a wrong password")
    await verify(client, key, account.login, code)
    await verify(client, key, account.login, f"{code[:3]} {code[3:]}")
    for _ in range(5):
        await verify(client, key, account.login, wrong(code))
    await verify(client, key, account.login, code)  # locked now
    await verify(client, key, "nobody-at-all", code)
    await verify(client, "asv_not-a-key", account.login, code)
    await client.get("/auth-codes/current", headers=me)
    await client.get("/auth-codes/history", headers=me)
    second = await new_code(client, me)
    await client.delete("/auth-codes/current", headers=me)

    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "event=support_verification" in logged  # the events are logged, not the secrets
    for secret in (code, second, wrong(code), key, PASSWORD, "a wrong password"):
        assert secret not in logged
    assert me["authorization"].removeprefix("Bearer ") not in logged


async def test_revoking_the_code_logs_the_customers_ip(
    ctx: ServiceContext, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="authsvc.events")
    account = await make_account(ctx)
    me = await bearer_session(ctx, account)
    await new_code(client, me)
    assert (await client.delete("/auth-codes/current", headers=me)).status_code == 204
    [revoked] = auth_events(caplog.records, "auth_code_revoked")
    assert revoked.ip == "203.0.113.7"  # type: ignore[attr-defined]
    assert revoked.account == str(account.id)  # type: ignore[attr-defined]
    assert "ip=203.0.113.7" in revoked.getMessage()  # the text line says it too
