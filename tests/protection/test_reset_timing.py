"""`POST /password/reset` does the same work whether or not the login exists, so its
timing does not tell (issue 24): the same statements, and medians that agree."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import event

from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from tests.conftest import make_client, with_settings
from tests.factories import make_account
from tests.protection.helpers import sent

REAL, NOBODY = "timed-login", "timed-nobody"


@contextmanager
def statements(ctx: ServiceContext) -> Iterator[list[str]]:
    """Every statement sent to PostgreSQL in the block, in order; the end of a savepoint
    as one word, whether it was released or rolled back."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        sql: str = args[2]
        seen.append("END SAVEPOINT" if sql.startswith(("RELEASE", "ROLLBACK TO")) else sql)

    engine = ctx.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def _reset(http: httpx.AsyncClient, login: str) -> None:
    assert (await http.post("/password/reset", json={"login": login})).status_code == 202


async def test_a_real_and_an_unknown_login_run_the_same_statements(ctx: ServiceContext) -> None:
    """The message of the code is written for both (in a savepoint, rolled back when there
    is nobody to send it to): the ~1 ms a real login used to cost more."""
    await make_account(ctx, login=REAL)
    runs = {}
    async with make_client(ctx) as http:
        for login in (REAL, NOBODY):
            with statements(ctx) as seen:
                await _reset(http, login)
            runs[login] = seen
    assert runs[REAL] == runs[NOBODY]
    assert sum("INSERT INTO outbox_messages" in sql for sql in runs[NOBODY]) == 1
    assert len(await sent(ctx, "password_reset_code")) == 1  # only the real one is kept


async def test_a_resend_runs_the_same_statements_for_a_real_and_an_unknown_login(
    ctx: ServiceContext, clock: MovableClock
) -> None:
    await make_account(ctx, login=REAL)
    runs = {}
    async with make_client(ctx) as http:
        for login in (REAL, NOBODY):
            reset_id = (await http.post("/password/reset", json={"login": login})).json()
            clock.advance(timedelta(seconds=30))
            with statements(ctx) as seen:
                body = {"reset_id": reset_id["reset_id"]}
                assert (await http.post("/password/reset/resend", json=body)).status_code == 202
            runs[login] = seen
    assert runs[REAL] == runs[NOBODY]
    assert len(await sent(ctx, "password_reset_code")) == 2  # the real one's two codes


# Medians of PAIRS interleaved requests each agree within max(FLOOR, SHARE of the faster):
# on this 2-core machine, shared with other work, a request takes 5-15 ms and the medians
# of one round swing by up to 3-4 ms when a burst of other work lands on it (seen while
# writing this). The bound sits above that swing, and a round that misses it is measured
# again (ROUNDS at most): a real difference shows in every round, a burst rarely in three
# in a row. So this guards against a leak of a few milliseconds (a statement or an e-mail
# rendered on one side only); the 1 ms a queued message cost is below what timing can
# show here without flaking, which is why the statement test above pins it exactly.
PAIRS, ROUNDS = 40, 3
FLOOR_MS, SHARE = 1.5, 0.25


def _agree(real_ms: float, nobody_ms: float) -> bool:
    return abs(real_ms - nobody_ms) <= max(FLOOR_MS, SHARE * min(real_ms, nobody_ms))


async def _timed_round(http: httpx.AsyncClient) -> tuple[float, float]:
    """The medians, in ms, of PAIRS requests each for the real and the unknown login, sent
    alternately (which goes first alternates too), so drift in load hits both alike."""
    times: dict[str, list[float]] = {REAL: [], NOBODY: []}
    for n in range(PAIRS):
        for login in (REAL, NOBODY) if n % 2 else (NOBODY, REAL):
            started = time.perf_counter()
            await _reset(http, login)
            times[login].append((time.perf_counter() - started) * 1000)
    return statistics.median(times[REAL]), statistics.median(times[NOBODY])


async def test_a_real_and_an_unknown_login_take_as_long(ctx: ServiceContext) -> None:
    ctx = with_settings(ctx, password_reset_limit=10_000, password_reset_ip_limit=10_000)
    await make_account(ctx, login=REAL)
    rounds: list[tuple[float, float]] = []
    async with make_client(ctx) as http:
        for _ in range(5):  # warm up: prepared statements, caches
            await _reset(http, REAL)
            await _reset(http, NOBODY)
        while len(rounds) < ROUNDS and not any(_agree(*r) for r in rounds):
            rounds.append(await _timed_round(http))
    assert any(_agree(*r) for r in rounds), f"medians (real, unknown) in ms: {rounds}"
