"""authsvc through a real PgBouncer in transaction pooling mode (AUTHSVC_DATABASE_POOLER):
the race statements hold, the worker delivers (LISTEN past the pooler, or polling), a
PgBouncer restart under load is 503s that heal by themselves, and without the setting
PgBouncer would break the service (so the setting is what makes it work).

The whole suite can also run through PgBouncer: AUTHSVC_TEST_POOLER=pgbouncer
(tests/pooler.py). Skipped, with the reason, where pgbouncer is not installed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta

import pytest
import pytest_asyncio
from pydantic import SecretStr
from sqlalchemy import text

from authsvc.context import ServiceContext
from authsvc.core.clock import SystemClock
from authsvc.core.db import create_engine, is_unavailable
from authsvc.delivery.worker import DeliveryWorker
from tests import test_races
from tests.conftest import make_client, make_settings, pooled_settings
from tests.delivery.conftest import FAST
from tests.delivery.fakes import FakeGateway, webhook_behaviour
from tests.delivery.helpers import eventually, queue, status_of
from tests.factories import make_account
from tests.login.flow import sign_in
from tests.pooler import BINARY, MISSING, PgBouncer

pytestmark = pytest.mark.skipif(BINARY is None, reason=MISSING)

TOKEN = "gateway-token-123"


@pytest.fixture(scope="module")
def bouncer(database_url: str) -> Iterator[PgBouncer]:
    running = PgBouncer(database_url)
    running.start()
    yield running
    running.close()


@pytest_asyncio.fixture
async def pooled(
    ctx: ServiceContext, bouncer: PgBouncer, database_url: str
) -> AsyncIterator[ServiceContext]:
    """The test context's settings and clock, its database reached through PgBouncer;
    `ctx` empties the tables afterwards."""
    settings = make_settings(**{**dict(ctx.settings), **pooled_settings(database_url)})
    through = ServiceContext.build(settings, bouncer.url(database_url), clock=ctx.clock)
    yield through
    await through.close()


@pytest_asyncio.fixture
async def gateway() -> AsyncIterator[FakeGateway]:
    server = await FakeGateway().start()
    yield server
    await server.stop()


RACES: list[Callable[[ServiceContext], Awaitable[None]]] = [
    test_races.test_only_the_allowed_attempts_are_counted,
    test_races.test_a_challenge_is_consumed_exactly_once,
    test_races.test_each_due_message_is_claimed_by_exactly_one_worker,
    test_races.test_a_rate_admits_exactly_its_limit,
    test_races.test_concurrent_generations_leave_exactly_one_active_code,
]


@pytest.mark.parametrize("race", RACES, ids=lambda race: race.__name__.removeprefix("test_"))
async def test_the_races_hold_through_pgbouncer(
    pooled: ServiceContext, race: Callable[[ServiceContext], Awaitable[None]]
) -> None:
    # 16 racers on 4 server connections: PgBouncer hands each transaction to whichever
    # is free, so statements of one client meet other clients' server sessions.
    await race(pooled)


async def test_sign_in_and_session_checks_work_through_pgbouncer(pooled: ServiceContext) -> None:
    await make_account(pooled, login="pooled")
    async with make_client(pooled) as http:
        await sign_in(http, pooled, "pooled")
        checks = await asyncio.gather(*(http.get("/session") for _ in range(40)))
    assert [response.status_code for response in checks] == [200] * 40


def _webhook(ctx: ServiceContext, gateway: FakeGateway, **extra: object) -> ServiceContext:
    gateway.behaviour = webhook_behaviour(TOKEN)
    settings = ctx.settings.model_copy(
        update={
            "sms_provider": "webhook",
            "sms_webhook_url": f"{gateway.url}/sms",
            "sms_webhook_token": SecretStr(TOKEN),
            **FAST,
            **extra,
        }
    )
    return dataclasses.replace(ctx, settings=settings, clock=SystemClock())


async def _run_worker(ctx: ServiceContext) -> tuple[DeliveryWorker, asyncio.Task[None]]:
    worker = DeliveryWorker(ctx)
    await worker.__aenter__()
    return worker, asyncio.create_task(worker.run())


async def _stop_worker(worker: DeliveryWorker, task: asyncio.Task[None]) -> None:
    worker.stop()
    await task
    await worker.__aexit__(None, None, None)


async def test_the_worker_listens_past_the_pooler_on_the_direct_url(
    pooled: ServiceContext, gateway: FakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = _webhook(pooled, gateway, delivery_poll_interval=timedelta(seconds=60))
    with caplog.at_level(logging.INFO, logger="authsvc.delivery"):
        worker, task = await _run_worker(ctx)
        try:
            await asyncio.wait_for(worker.listening.wait(), 10)
            await asyncio.sleep(0.1)  # the start-up claim finds nothing; the worker idles
            started = time.monotonic()
            message_id = await queue(ctx, channel="sms")
            await eventually(lambda: _sent(ctx, message_id), within=5)
            assert time.monotonic() - started < 1.0  # woken by NOTIFY, not its 60 s poll
        finally:
            await _stop_worker(worker, task)
    assert "wake=LISTEN on" in caplog.text and "past the pooler" in caplog.text


async def test_without_a_direct_url_the_worker_polls_and_says_so(
    pooled: ServiceContext, gateway: FakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = _webhook(
        pooled, gateway, database_direct_url=None,
        delivery_poll_interval=timedelta(milliseconds=200),
    )  # fmt: skip
    with caplog.at_level(logging.INFO, logger="authsvc.delivery"):
        worker, task = await _run_worker(ctx)
        try:
            message_id = await queue(ctx, channel="sms")
            await eventually(lambda: _sent(ctx, message_id), within=5)
            assert not worker.listening.is_set()
        finally:
            await _stop_worker(worker, task)
    assert "wake=poll every 0.2s (transaction pooler and no AUTHSVC_DATABASE_DIRECT_URL" in (
        caplog.text
    )


async def _sent(ctx: ServiceContext, message_id: uuid.UUID) -> bool:
    return (await status_of(ctx, message_id)).state == "sent"


async def test_a_pgbouncer_restart_under_load_gives_503s_then_heals(
    pooled: ServiceContext, bouncer: PgBouncer
) -> None:
    await make_account(pooled, login="restart")
    async with make_client(pooled) as http:
        await sign_in(http, pooled, "restart")
        statuses: list[int] = []
        stop = asyncio.Event()

        async def load() -> None:
            while not stop.is_set():
                response = await http.get("/session")
                statuses.append(response.status_code)
                if response.status_code == 503:
                    assert response.json()["code"] == "database_unavailable"
                    assert int(response.headers["retry-after"]) > 0

        loaders = [asyncio.create_task(load()) for _ in range(4)]
        try:
            await eventually(lambda: _answered(statuses, 200, 20), within=10)
            bouncer.kill()
            await eventually(lambda: _answered(statuses, 503, 5), within=10)
            bouncer.start()  # same port, as a restarted pgbouncer
            healed_from = len(statuses)
            await eventually(lambda: _answered(statuses[healed_from:], 200, 20), within=20)
        finally:
            stop.set()
            await asyncio.gather(*loaders)
    assert set(statuses) <= {200, 503}, sorted(set(statuses))  # never a 500


async def _answered(statuses: list[int], status: int, count: int) -> bool:
    await asyncio.sleep(0)
    return statuses.count(status) >= count


async def _statement_meets_another_server(url: str, *, transaction_pooled: bool) -> None:
    """Client A runs a statement; client B then holds the only server connection A
    used, in a transaction; A runs the statement again, on a second server connection."""
    first, second = (
        create_engine(url, pool_size=1, transaction_pooled=transaction_pooled) for _ in "ab"
    )
    query = text("SELECT count(*) FROM pg_class WHERE relname = :name")
    try:
        async with first.connect() as a, second.connect() as b:
            await a.execute(query, {"name": "sessions"})
            await a.commit()
            await b.execute(text("SELECT 1"))  # B's transaction stays open: it holds S1
            assert (await a.execute(query, {"name": "accounts"})).scalar_one() == 1
            await a.commit()
            await b.commit()
    finally:
        await first.dispose()
        await second.dispose()


async def test_without_the_pooler_setting_pgbouncer_breaks_prepared_statements(
    database_url: str,
) -> None:
    """The control: a statement asyncpg prepared and cached on one server connection is
    missing on the next, which is what AUTHSVC_DATABASE_POOLER=transaction prevents."""
    pair = PgBouncer(database_url, pool_size=2)
    pair.start()
    try:
        url = pair.url(database_url)
        with pytest.raises(Exception, match="prepared statement") as broken:
            await _statement_meets_another_server(url, transaction_pooled=False)
        assert not is_unavailable(broken.value)  # a wrong statement, not a database away
        await _statement_meets_another_server(url, transaction_pooled=True)
    finally:
        pair.close()
