"""Session checks that read: the use is written at most once per touch interval, the idle
timeout still holds to within that interval, and an ended session is refused at once.

Writes are counted by the row's `xmin`, the transaction that wrote its current version:
it changes exactly when a check writes the row.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import datetime, timedelta

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import text

from authsvc.accounts.service import set_disabled
from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from authsvc.core.crypto import token_digest
from authsvc.sessions import repository
from tests.conftest import PANEL_ORIGIN, make_client, make_settings, with_settings
from tests.factories import make_account
from tests.login.flow import sign_in
from tests.sessions.helpers import until_waiting_on_locks

INTERVAL = timedelta(seconds=60)  # the default AUTHSVC_SESSION_TOUCH_INTERVAL
IDLE = timedelta(minutes=30)


async def _signed_in(ctx: ServiceContext, client: httpx.AsyncClient, login: str = "sam") -> str:
    await make_account(ctx, login=login)
    verified = await sign_in(client, ctx, login)
    return verified.cookies["__Host-authsvc_session"]


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _row_version(ctx: ServiceContext, token: str) -> tuple[str, datetime, datetime]:
    """The session row's writing transaction, last use and idle expiry."""
    async with ctx.db.autocommit() as session:
        row = (
            await session.execute(
                text(
                    "SELECT xmin::text, last_seen_at, idle_expires_at FROM sessions"
                    " WHERE token_hash = :digest"
                ),
                {"digest": token_digest(token)},
            )
        ).one()
    return row[0], row[1], row[2]


async def _check(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/session", headers=_bearer(token))


async def test_checks_within_the_interval_after_the_login_write_nothing(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    token = await _signed_in(ctx, client)
    before = await _row_version(ctx, token)
    for _ in range(100):
        clock.advance(timedelta(milliseconds=590))  # 59 s in all
        assert (await _check(client, token)).status_code == 200
    assert await _row_version(ctx, token) == before


async def test_a_hundred_checks_in_one_interval_write_once(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    token = await _signed_in(ctx, client)
    clock.advance(INTERVAL + timedelta(seconds=1))
    first_use = clock.now()
    versions = set()
    for _ in range(100):
        response = await _check(client, token)
        assert response.status_code == 200
        versions.add((await _row_version(ctx, token))[0])
        clock.advance(timedelta(milliseconds=590))  # the 100 checks span 59 s
    assert len(versions) == 1  # the first check wrote, the other 99 did not
    _, last_seen, idle_until = await _row_version(ctx, token)
    assert last_seen == first_use and idle_until == first_use + IDLE
    # The answer tells the idle expiry that applies: the written one.
    assert datetime.fromisoformat(response.json()["session"]["idle_expires_at"]) == idle_until


async def test_the_next_interval_writes_again(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    token = await _signed_in(ctx, client)
    clock.advance(INTERVAL + timedelta(seconds=1))
    await _check(client, token)
    written = await _row_version(ctx, token)
    clock.advance(INTERVAL)  # exactly one interval: not yet older than it
    await _check(client, token)
    assert await _row_version(ctx, token) == written
    clock.advance(timedelta(seconds=1))
    await _check(client, token)
    xmin, last_seen, _ = await _row_version(ctx, token)
    assert xmin != written[0] and last_seen == clock.now()


async def test_every_authenticated_call_writes_at_most_once_per_interval(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    token = await _signed_in(ctx, client)
    before = await _row_version(ctx, token)
    for path in ("/session", "/sessions", "/auth-codes/current", "/auth-codes/history"):
        assert (await client.get(path, headers=_bearer(token))).status_code == 200, path
    assert await _row_version(ctx, token) == before


async def test_idle_timeout_holds_to_within_the_interval(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    token = await _signed_in(ctx, client)
    signed_in_at = clock.now()
    # A use 59 s after the login is not written: the idle expiry stays the login's.
    clock.advance(INTERVAL - timedelta(seconds=1))
    assert (await _check(client, token)).status_code == 200
    clock.advance(IDLE - INTERVAL)  # 1 s before the written idle expiry
    assert (await _check(client, token)).status_code == 200
    # The check above was due, so it slid the expiry to 30 minutes after itself.
    used_at = clock.now()
    assert (await _row_version(ctx, token))[1] == used_at
    clock.advance(IDLE - timedelta(seconds=1))
    assert (await _check(client, token)).status_code == 200  # a use 1 s before: not due
    clock.advance(IDLE)
    # Idle since `used_at + IDLE - 1 s` for a full timeout: ended, and never later than
    # the exact rule (30 minutes after the last use) would end it.
    assert clock.now() - signed_in_at > IDLE
    assert (await _check(client, token)).status_code == 401


async def test_an_idle_session_ends_at_most_one_interval_early(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    token = await _signed_in(ctx, client)
    clock.advance(INTERVAL - timedelta(seconds=1))  # the last use, not written
    assert (await _check(client, token)).status_code == 200
    # The exact rule would end it at last use + 30 min; the stored expiry is the login's
    # + 30 min, 59 s earlier: inside the interval, and early rather than late.
    clock.advance(IDLE - INTERVAL + timedelta(seconds=2))
    assert (await _check(client, token)).status_code == 401


async def test_a_revoked_session_is_refused_at_once_by_another_replica(
    ctx: ServiceContext, clock: MovableClock
) -> None:
    async with make_client(ctx) as browser:
        token = await _signed_in(ctx, browser)
    # Two replicas: separate apps with their own connection pools on one database.
    other_replica = ServiceContext.build(ctx.settings, str(ctx.db.engine.url.render_as_string(
        hide_password=False)), clock=clock)  # fmt: skip
    try:
        async with make_client(ctx) as first, make_client(other_replica) as second:
            assert (await _check(second, token)).status_code == 200
            clock.advance(timedelta(seconds=5))  # well inside the touch interval
            assert (await first.post("/logout", headers=_bearer(token))).status_code == 204
            assert (await _check(second, token)).status_code == 401
    finally:
        await other_replica.close()


async def test_a_disabled_account_is_refused_at_once_inside_the_interval(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    token = await _signed_in(ctx, client, "soon-off")
    assert (await _check(client, token)).status_code == 200
    clock.advance(timedelta(seconds=5))
    async with ctx.db.transaction() as session:
        await set_disabled(session, "soon-off", disabled=True, now=clock.now())
    assert (await _check(client, token)).status_code == 401


async def test_a_session_ended_from_the_list_is_refused_at_once(
    ctx: ServiceContext, clock: MovableClock
) -> None:
    await make_account(ctx, login="two-tabs")
    async with make_client(ctx) as laptop, make_client(ctx) as phone:
        laptop_token = (await sign_in(laptop, ctx, "two-tabs")).cookies["__Host-authsvc_session"]
        await sign_in(phone, ctx, "two-tabs")
        assert (await _check(laptop, laptop_token)).status_code == 200
        clock.advance(timedelta(seconds=5))
        ended = await phone.delete("/sessions", headers={"origin": PANEL_ORIGIN})
        assert ended.status_code == 204
        assert (await _check(laptop, laptop_token)).status_code == 401


async def test_of_concurrent_due_checks_only_one_writes(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    """The due test is repeated under the row lock: checks that waited for a touch see
    the row as it left it and write nothing."""
    token = await _signed_in(ctx, client)
    clock.advance(INTERVAL + timedelta(seconds=1))
    now = clock.now()
    digest = token_digest(token)
    checkers = 3  # with the blocker, within a test PgBouncer's 4 server connections
    async with ctx.db.engine.connect() as blocker:
        # A touch that holds the row lock until the checks below wait for it.
        touched = await blocker.execute(
            text("UPDATE sessions SET last_seen_at = :now WHERE token_hash = :digest"),
            {"now": now, "digest": digest},
        )
        assert touched.rowcount == 1
        blocker_xid = (await blocker.execute(text("SELECT txid_current()::text"))).scalar_one()

        async def check() -> object:
            return await repository.find_live(
                ctx.db, digest, now=now, idle_timeout=IDLE, touch_interval=INTERVAL
            )

        waiting = [asyncio.create_task(check()) for _ in range(checkers)]
        await until_waiting_on_locks(blocker, checkers)
        await blocker.commit()
        found = await asyncio.gather(*waiting)
    assert all(result is not None for result in found)
    assert (await _row_version(ctx, token))[0] == blocker_xid


def test_the_touch_interval_must_be_shorter_than_the_idle_timeout() -> None:
    with pytest.raises(ValidationError, match="shorter than AUTHSVC_SESSION_IDLE_TIMEOUT"):
        make_settings(session_idle_timeout=timedelta(seconds=60))
    assert make_settings(session_touch_interval=0).session_touch_interval == timedelta(0)


async def test_a_zero_interval_writes_at_every_check(
    ctx: ServiceContext, clock: MovableClock
) -> None:
    every = with_settings(ctx, session_touch_interval=0)
    async with make_client(every) as client:
        token = await _signed_in(every, client)
        versions = set()
        for _ in range(3):
            clock.advance(timedelta(milliseconds=10))
            await _check(client, token)
            versions.add((await _row_version(ctx, token))[0])
    assert len(versions) == 3


def test_a_checked_session_reads_in_a_fresh_process_before_any_orm_query() -> None:
    """The check builds its rows without the ORM's queries, which are what configure the
    mappers; the first request of a new process may be a check."""
    script = (
        "import authsvc.models\n"
        "from authsvc.accounts.models import Account\n"
        "from authsvc.core.db import loaded\n"
        "print(loaded(Account, {'login': 'sam'}).login)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.strip() == "sam", done.stderr
