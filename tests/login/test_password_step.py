from __future__ import annotations

import asyncio
import dataclasses
import re

import httpx
import pytest
from sqlalchemy import select

from authsvc.accounts.models import Account
from authsvc.accounts.passwords import PasswordHasher
from authsvc.context import ServiceContext
from authsvc.core.errors import Overloaded
from authsvc.delivery.models import OutboxMessage
from tests.conftest import make_client
from tests.factories import PASSWORD, make_account
from tests.login.flow import start_login
from tests.util import auth_events, without_request_id


async def test_correct_password_opens_a_challenge_and_queues_the_code(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    await make_account(ctx, login="jan", email="jan@example.com")
    response = await start_login(client, "JAN")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "challenge_id", "factor", "factors", "channel", "destination", "expires_at",
        "resend_after",
    }  # fmt: skip
    assert (body["factor"], body["factors"]) == ("email", ["email"])
    assert body["channel"] == "email"
    assert body["destination"] == "j***@example.com"
    assert response.headers["cache-control"] == "no-store"
    async with ctx.db.transaction() as session:
        templates = (await session.execute(select(OutboxMessage.template))).scalars().all()
    assert sorted(templates) == ["login_incomplete", "login_otp"]


async def test_sms_account_gets_the_code_by_sms_with_a_masked_number(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    await make_account(ctx, login="ola", phone="+48601234789", channel="sms")
    body = (await start_login(client, "ola")).json()
    assert body["channel"] == "sms"
    assert body["destination"] == "+48 *** *** 789"


async def test_unknown_login_wrong_password_and_disabled_account_are_byte_identical(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    await make_account(ctx, login="known")
    await make_account(ctx, login="off", disabled=True)
    answers = [
        await start_login(client, "nobody-here"),
        await start_login(client, "known", "wrong password"),
        await start_login(client, "off"),
    ]
    assert {r.status_code for r in answers} == {401}
    assert len({r.content for r in answers}) == 1
    # Every header alike but the request id, which is each request's own by design.
    assert len({tuple(sorted(without_request_id(r.headers).items())) for r in answers}) == 1
    assert answers[0].json()["code"] == "invalid_credentials"


class CountingHasher(PasswordHasher):
    """The real hasher, counting how many argon2 verifications it runs."""

    verifications = 0

    async def verify(self, password_hash: str, password: str) -> bool:
        type(self).verifications += 1
        return await super().verify(password_hash, password)

    async def verify_dummy(self, password: str) -> None:
        type(self).verifications += 1
        await super().verify_dummy(password)


async def test_unknown_and_disabled_logins_cost_an_argon2_verification_too(
    ctx: ServiceContext,
) -> None:
    hasher = CountingHasher(memory_kib=19456, time_cost=2, parallelism=1)
    await make_account(ctx, login="off", disabled=True)
    async with make_client(dataclasses.replace(ctx, hasher=hasher)) as http:
        await start_login(http, "nobody")
        await start_login(http, "off")
    hasher.close()
    assert CountingHasher.verifications == 2


async def test_outdated_hash_is_rehashed_on_successful_login(ctx: ServiceContext) -> None:
    old = PasswordHasher(memory_kib=19456, time_cost=2, parallelism=1)
    new = PasswordHasher(memory_kib=19456, time_cost=3, parallelism=1)
    account = await make_account(dataclasses.replace(ctx, hasher=old), login="legacy")
    assert ",t=2," in account.password_hash
    async with make_client(dataclasses.replace(ctx, hasher=new)) as http:
        assert (await start_login(http, "legacy")).status_code == 200
    async with ctx.db.transaction() as session:
        stored = (await session.execute(select(Account.password_hash))).scalar_one()
    assert ",t=3," in stored and await new.verify(stored, PASSWORD)
    old.close()
    new.close()


async def test_no_database_connection_waits_while_argon2_runs(ctx: ServiceContext) -> None:
    pool = ctx.db.engine.pool
    in_use_during_hash: list[int] = []

    class ObservingHasher(PasswordHasher):
        async def verify(self, password_hash: str, password: str) -> bool:
            in_use_during_hash.append(pool.checkedout())  # type: ignore[attr-defined]
            return await super().verify(password_hash, password)

    hasher = ObservingHasher(memory_kib=19456, time_cost=2, parallelism=1)
    await make_account(ctx, login="pooled")
    async with make_client(dataclasses.replace(ctx, hasher=hasher)) as http:
        assert (await start_login(http, "pooled")).status_code == 200
    hasher.close()
    assert in_use_during_hash == [0]


class FullPoolHasher(PasswordHasher):
    """Verifies as usual, but finds the pool full when asked for a new hash."""

    async def hash(self, password: str) -> str:
        raise Overloaded("full", retry_after=1)


async def test_a_rehash_refused_by_a_full_pool_does_not_fail_the_login(
    ctx: ServiceContext,
) -> None:
    old = PasswordHasher(memory_kib=19456, time_cost=2, parallelism=1)
    full = FullPoolHasher(memory_kib=19456, time_cost=3, parallelism=1)
    account = await make_account(dataclasses.replace(ctx, hasher=old), login="later")
    async with make_client(dataclasses.replace(ctx, hasher=full)) as http:
        assert (await start_login(http, "later")).status_code == 200
    async with ctx.db.transaction() as session:
        stored = (await session.execute(select(Account.password_hash))).scalar_one()
    assert stored == account.password_hash  # upgraded at a later login instead
    old.close()
    full.close()


async def test_login_sheds_load_with_503_when_argon2_is_saturated(
    ctx: ServiceContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="authsvc.events")
    hasher = PasswordHasher(memory_kib=19456, time_cost=2, parallelism=1, threads=1, max_waiting=1)
    await make_account(ctx, login="busy")
    async with make_client(dataclasses.replace(ctx, hasher=hasher)) as http:
        answers = await asyncio.gather(*(start_login(http, "busy") for _ in range(8)))
    hasher.close()
    statuses = [r.status_code for r in answers]
    assert statuses.count(200) >= 2
    shed = [r for r in answers if r.status_code == 503]
    assert shed, statuses
    assert shed[0].json()["code"] == "overloaded"
    assert int(shed[0].headers["retry-after"]) >= 1
    # Logged in the argon2 pool, which does not know the request, with the client's IP.
    overloaded = auth_events(caplog.records, "overloaded")
    assert len(overloaded) == len(shed)
    assert all(r.ip == "203.0.113.7" for r in overloaded)  # type: ignore[attr-defined]


@pytest.mark.parametrize("body", [{}, {"login": "x"}, {"login": "", "password": "p"}])
async def test_malformed_login_request_is_422(client: httpx.AsyncClient, body: object) -> None:
    response = await client.post("/login", json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"


async def test_expires_at_is_ten_minutes_and_resend_after_thirty_seconds(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    from datetime import datetime

    await make_account(ctx, login="timer")
    now = ctx.clock.now()
    body = (await start_login(client, "timer")).json()
    expires = datetime.fromisoformat(body["expires_at"])
    resend_after = datetime.fromisoformat(body["resend_after"])
    assert round((expires - now).total_seconds()) == 600
    assert round((resend_after - now).total_seconds()) == 30
    assert re.fullmatch(r"[0-9a-f-]{36}", body["challenge_id"])
