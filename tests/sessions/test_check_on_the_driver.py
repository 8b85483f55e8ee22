"""The session check runs on the driver's connection (core.db.DriverQuery): it must read
what the ORM reads, a connection lost under it must leave the pool, as on SQLAlchemy's
own path, and one whose check was cancelled must serve the next ones."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from authsvc.accounts.models import Account
from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from authsvc.core.crypto import token_digest
from authsvc.core.db import DatabaseUnavailable, column_values
from authsvc.sessions import repository
from authsvc.sessions.models import UserSession
from tests.factories import make_account
from tests.login.flow import sign_in
from tests.sessions.helpers import until_waiting_on_locks

INTERVAL = timedelta(seconds=60)
IDLE = timedelta(minutes=30)


async def _token(ctx: ServiceContext, client: httpx.AsyncClient, login: str) -> str:
    await make_account(ctx, login=login)
    return (await sign_in(client, ctx, login)).cookies["__Host-authsvc_session"]


async def _find(ctx: ServiceContext, token: str) -> tuple[UserSession, Account] | None:
    return await repository.find_live(
        ctx.db, token_digest(token), now=ctx.clock.now(), idle_timeout=IDLE,
        touch_interval=INTERVAL,
    )  # fmt: skip


def _typed(row: UserSession | Account) -> dict[str, tuple[type, object]]:
    return {key: (type(value), value) for key, value in column_values(row).items()}


async def test_the_check_reads_every_column_as_the_orm_does(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    token = await _token(ctx, client, "same-shape")
    found = await _find(ctx, token)
    assert found is not None
    user_session, account = found
    async with ctx.db.transaction() as session:
        orm_session = await session.get(UserSession, user_session.id)
        orm_account = await session.get(Account, account.id)
    assert orm_session is not None and orm_account is not None
    # Same values of the same Python types (asyncpg's UUID is a uuid.UUID of its own).
    for ours, orms in ((user_session, orm_session), (account, orm_account)):
        for key, (kind, value) in _typed(orms).items():
            assert isinstance(getattr(ours, key), kind), key
            assert getattr(ours, key) == value, key


async def test_a_lost_connection_answers_unavailable_and_leaves_the_pool(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    token = await _token(ctx, client, "cut-off")
    url = ctx.db.engine.url.render_as_string(hide_password=False)
    replica = ServiceContext.build(ctx.settings, url, application_name="authsvc-doomed")
    try:
        assert await _find(replica, token) is not None  # a pooled connection now
        pooled = replica.db.engine.pool.checkedin()  # type: ignore[attr-defined]
        async with ctx.db.autocommit() as session:
            await session.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'authsvc-doomed'"
            ))  # fmt: skip
        # Each pooled connection found dead fails its one check as a 503 and is replaced
        # (through PgBouncer, the pooler replaces the server connection and none fails).
        failures = 0
        while True:
            try:
                found = await _find(replica, token)
            except DatabaseUnavailable:
                failures += 1
                assert failures <= pooled
                continue
            break
        assert found is not None
        assert replica.db.connections_in_use() == 0
    finally:
        await replica.close()


async def test_a_connection_whose_check_was_cancelled_serves_the_next_checks(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    token = await _token(ctx, client, "walked-away")
    clock.advance(INTERVAL + timedelta(seconds=1))  # due, so the check wants the row lock
    async with ctx.db.engine.connect() as blocker:
        await blocker.execute(
            text("UPDATE sessions SET user_agent = user_agent WHERE token_hash = :digest"),
            {"digest": token_digest(token)},
        )
        waiting = asyncio.create_task(_find(ctx, token))
        await until_waiting_on_locks(blocker, 1)
        waiting.cancel()  # the client went away while the statement waited
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await blocker.commit()
    # It went back to the pool: had asyncpg not finished the cancel first, a check on it
    # would fail ("another operation is in progress") or read the cancelled answer. The
    # pool hands connections out first in, first out, so these reach every pooled one.
    for _ in range(ctx.settings.db_pool_size + 1):
        assert await _find(ctx, token) is not None
    assert ctx.db.connections_in_use() == 0
