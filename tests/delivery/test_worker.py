"""The worker loop: NOTIFY wake-up, polling, leases, concurrency, several workers, logs."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import pytest
from pydantic import SecretStr

from authsvc.app import background_services, create_app
from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock, SystemClock
from authsvc.core.crypto import Keyring
from authsvc.delivery import repository
from authsvc.delivery.models import OutboxMessage
from authsvc.delivery.outbox import MessageStatus
from authsvc.delivery.worker import DeliveryWorker, backoff, delivery_worker
from tests.conftest import make_settings, with_settings
from tests.delivery.conftest import FAST
from tests.delivery.fakes import FakeGateway, Request, SmtpSink, webhook_behaviour
from tests.delivery.helpers import OTP, eventually, queue, states, status_of

TOKEN = "gateway-token-123"


def webhook_ctx(ctx: ServiceContext, gateway: FakeGateway, **extra: object) -> ServiceContext:
    gateway.behaviour = webhook_behaviour(TOKEN)
    return with_settings(
        ctx,
        sms_provider="webhook",
        sms_webhook_url=f"{gateway.url}/sms",
        sms_webhook_token=SecretStr(TOKEN),
        **extra,
    )


@asynccontextmanager
async def running(worker: DeliveryWorker) -> AsyncIterator[DeliveryWorker]:
    async with worker:
        task = asyncio.create_task(worker.run())
        try:
            yield worker
        finally:
            worker.stop()
            await task


async def all_sent(ctx: ServiceContext, count: int) -> bool:
    return await states(ctx) == {"sent": count}


async def test_idle_worker_wakes_on_notify_long_before_its_poll(
    live_ctx: ServiceContext, gateway: FakeGateway
) -> None:
    ctx = webhook_ctx(live_ctx, gateway, delivery_poll_interval=timedelta(seconds=60))
    async with running(DeliveryWorker(ctx)) as worker:
        await asyncio.wait_for(worker.listening.wait(), 10)
        await asyncio.sleep(0.1)  # let the start-up claim find nothing and go idle
        started = time.monotonic()
        message_id = await queue(ctx, channel="sms")
        await eventually(lambda: is_sent(ctx, message_id), within=5)
        assert time.monotonic() - started < 1.0


async def test_without_notify_the_poll_still_delivers(
    live_ctx: ServiceContext, gateway: FakeGateway
) -> None:
    ctx = webhook_ctx(live_ctx, gateway, delivery_poll_interval=timedelta(milliseconds=200))
    async with running(DeliveryWorker(ctx, listen=False)):
        await asyncio.sleep(0.05)
        message_id = await queue(ctx, channel="sms")
        await eventually(lambda: is_sent(ctx, message_id), within=5)


async def is_sent(ctx: ServiceContext, message_id: uuid.UUID) -> bool:
    return (await status_of(ctx, message_id)).state == "sent"


async def test_two_workers_on_one_database_deliver_200_messages_exactly_once(
    live_ctx: ServiceContext, gateway: FakeGateway, database_url: str
) -> None:
    """Two workers with their own engines, as two processes would have."""
    tokens = ("token-of-worker-a", "token-of-worker-b")
    by_worker: dict[str, int] = dict.fromkeys(tokens, 0)

    def behaviour(request: Request) -> tuple[int, object]:
        token = request.headers["authorization"].removeprefix("Bearer ")
        by_worker[token] += 1
        return 200, {"ok": True}

    contexts = []
    for token in tokens:
        settings = live_ctx.settings.model_copy(
            update={
                "sms_provider": "webhook",
                "sms_webhook_url": f"{gateway.url}/sms",
                "sms_webhook_token": SecretStr(token),
                "delivery_concurrency": 8,
                "delivery_batch_size": 10,
            }
        )
        contexts.append(ServiceContext.build(settings, database_url, clock=SystemClock()))
    gateway.behaviour = behaviour
    gateway.delay = 0.005
    try:
        async with running(DeliveryWorker(contexts[0])), running(DeliveryWorker(contexts[1])):
            ids = [await queue(live_ctx, channel="sms") for _ in range(200)]
            await eventually(lambda: all_sent(live_ctx, 200), within=30)
    finally:
        for ctx in contexts:
            await ctx.close()

    sent = [request.json()["message_id"] for request in gateway.requests]
    assert sorted(sent) == sorted(str(message_id) for message_id in ids)
    assert all(count > 0 for count in by_worker.values()), by_worker


async def test_concurrency_is_bounded(live_ctx: ServiceContext, gateway: FakeGateway) -> None:
    ctx = webhook_ctx(live_ctx, gateway, delivery_concurrency=3)
    gateway.delay = 0.1
    for _ in range(10):
        await queue(ctx, channel="sms")
    async with running(DeliveryWorker(ctx)):
        await eventually(lambda: all_sent(ctx, 10), within=10)
    assert gateway.max_in_flight == 3


async def test_stop_finishes_the_message_in_hand(
    live_ctx: ServiceContext, gateway: FakeGateway
) -> None:
    ctx = webhook_ctx(live_ctx, gateway, delivery_concurrency=1)
    gateway.delay = 0.5
    first, second = await queue(ctx, channel="sms"), await queue(ctx, channel="sms")
    async with DeliveryWorker(ctx, listen=False) as worker:
        task = asyncio.create_task(worker.run())
        await eventually(lambda: has_requests(gateway))
        worker.stop()
        await asyncio.wait_for(task, 5)
    assert await status_of(ctx, first) == MessageStatus("sent", 1, None)
    assert await status_of(ctx, second) == MessageStatus("queued", 0, None)


async def has_requests(gateway: FakeGateway) -> bool:
    return bool(gateway.requests)


async def test_message_of_a_worker_that_died_is_sent_after_its_lease(
    fast_ctx: ServiceContext, clock: MovableClock, gateway: FakeGateway
) -> None:
    ctx = webhook_ctx(fast_ctx, gateway)
    message_id = await queue(ctx, channel="sms")
    async with ctx.db.transaction() as session:  # claimed by a worker that then died
        lease = ctx.settings.delivery_lease
        await repository.claim_due(
            session, now=clock.now(), lease_until=clock.now() + lease, limit=10
        )
    async with DeliveryWorker(ctx, listen=False) as worker:
        assert await worker.run_once() == 0
        clock.advance(lease)
        assert await worker.run_once() == 1
    assert await status_of(ctx, message_id) == MessageStatus("sent", 2, None)


async def test_a_worker_whose_lease_ran_out_cannot_overwrite_the_new_owner(
    fast_ctx: ServiceContext, clock: MovableClock
) -> None:
    message_id = await queue(fast_ctx)
    now = clock.now()
    async with fast_ctx.db.transaction() as session:
        [old] = await repository.claim_due(session, now=now, lease_until=now, limit=1)
        [new] = await repository.claim_due(session, now=now, lease_until=now, limit=1)
        assert (old.attempts, new.attempts) == (1, 2)
        late = old.attempts
        assert not await repository.mark_retry(
            session, message_id, attempt=late, retry_at=now, error="late"
        )
        assert not await repository.mark_sent(session, message_id, attempt=late, now=now)
        assert await repository.mark_sent(session, message_id, attempt=new.attempts, now=now)


async def test_message_no_key_can_open_is_abandoned(fast_ctx: ServiceContext) -> None:
    message_id = await queue(fast_ctx)
    stranger = dataclasses.replace(fast_ctx, keyring=Keyring([b"s" * 40]))
    async with DeliveryWorker(stranger, listen=False) as worker:
        await worker.run_once()
    found = await status_of(fast_ctx, message_id)
    assert found.state == "abandoned"
    assert found.last_error == "no configured secret key opens it"


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    base, cap = timedelta(seconds=2), timedelta(minutes=5)
    for attempt, ceiling in [(1, 2), (2, 4), (3, 8), (8, 256), (9, 300), (40, 300)]:
        delays = [backoff(base, cap, attempt).total_seconds() for _ in range(200)]
        assert ceiling / 2 <= min(delays)
        assert max(delays) <= ceiling
        assert len(set(delays)) > 100, "jittered"


async def test_logs_never_carry_the_code(
    fast_ctx: ServiceContext,
    gateway: FakeGateway,
    smtp_sink: tuple[SmtpSink, int],
    clock: MovableClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    _, port = smtp_sink
    ctx = webhook_ctx(
        fast_ctx,
        gateway,
        email_provider="smtp",
        smtp_url=SecretStr(f"smtp://127.0.0.1:{port}"),
        delivery_max_attempts=2,
    )
    # A gateway that quotes the whole request back in its error.
    gateway.behaviour = lambda request: (500, {"error": request.body.decode()})
    sms = await queue(ctx, channel="sms")
    mail = await queue(ctx, channel="email")
    async with DeliveryWorker(ctx, listen=False) as worker:
        await worker.run_once()
        clock.advance(timedelta(seconds=1))
        await worker.run_once()

    assert (await status_of(ctx, mail)).state == "sent"
    assert (await status_of(ctx, sms)).state == "abandoned"
    assert f"delivery sent message_id={mail}" in caplog.text
    assert f"delivery abandoned message_id={sms}" in caplog.text
    assert "error=http_500" in caplog.text
    # Everything logged on our side (aiosmtpd's own "mail.log" is the test's SMTP server).
    ours = "\n".join(
        f"{record.getMessage()} {record.args}"
        for record in caplog.records
        if not record.name.startswith("mail.log")
    )
    assert "httpx" in {record.name for record in caplog.records}
    assert OTP not in ours
    assert OTP not in str((await status_of(ctx, sms)).last_error)


def test_serve_runs_the_worker_unless_told_not_to() -> None:
    assert background_services(make_settings()) == [delivery_worker]
    assert background_services(make_settings(run_delivery_worker=False)) == []


async def test_the_app_lifespan_runs_the_worker(
    ctx: ServiceContext, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(database_url=SecretStr(database_url), **FAST)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        message_id = await queue(ctx, channel="sms", locale="en")
        await eventually(lambda: is_sent(ctx, message_id), within=10)
    assert f"sms to +48601234567 ({message_id})" in capsys.readouterr().out


async def test_a_recipients_later_messages_wait_behind_a_failed_earlier_one(
    fast_ctx: ServiceContext, clock: MovableClock
) -> None:
    """Once a message has failed, its recipient's later messages are held (and show as
    failed) until it leaves, so they arrive in the order created; others never wait."""
    first = await queue(fast_ctx, channel="sms", recipient="+48601000001")
    clock.advance(timedelta(seconds=1))
    later = await queue(fast_ctx, channel="sms", recipient="+48601000001")
    other = await queue(fast_ctx, channel="sms", recipient="+48601000002")
    clock.advance(timedelta(seconds=1))
    now = clock.now()

    async def claim() -> list[uuid.UUID]:
        async with fast_ctx.db.transaction() as session:
            claimed = await repository.claim_due(session, now=now, lease_until=now, limit=10)
            return [message.id for message in claimed]

    assert set(await claim()) == {first, later, other}  # no failure yet: all in parallel
    async with fast_ctx.db.transaction() as session:
        for message_id in (first, later, other):
            assert await repository.mark_retry(
                session, message_id, attempt=1, retry_at=now, error="http_500"
            )
        # Only the first of the recipient's failures is retried; the other recipient goes on.
        await repository.mark_sent(session, other, attempt=1, now=now)
    assert await claim() == [first]
    assert (await status_of(fast_ctx, later)).last_error is not None
    async with fast_ctx.db.transaction() as session:
        assert await repository.mark_sent(session, first, attempt=2, now=now)
    assert await claim() == [later]  # now it may go


async def test_a_message_held_behind_a_failure_holds_the_ones_after_it(
    fast_ctx: ServiceContext, clock: MovableClock
) -> None:
    ids = []
    for _ in range(3):
        ids.append(await queue(fast_ctx, channel="sms"))
        clock.advance(timedelta(seconds=1))
    now = clock.now()

    async def claim() -> list[uuid.UUID]:
        async with fast_ctx.db.transaction() as session:
            claimed = await repository.claim_due(session, now=now, lease_until=now, limit=1)
            return [message.id for message in claimed]

    assert await claim() == [ids[0]]
    async with fast_ctx.db.transaction() as session:
        await repository.mark_retry(session, ids[0], attempt=1, retry_at=now, error="down")
    assert await claim() == [ids[0]]  # the two later ones are held (and marked)
    async with fast_ctx.db.transaction() as session:
        assert await repository.mark_sent(session, ids[0], attempt=2, now=now)
        assert await repository.next_due_at(session) == (await _next_attempt_at(fast_ctx, ids[1]))
    assert await claim() == [ids[1]]
    async with fast_ctx.db.transaction() as session:
        assert await repository.mark_sent(session, ids[1], attempt=1, now=now)
    assert await claim() == [ids[2]]


async def _next_attempt_at(ctx: ServiceContext, message_id: uuid.UUID) -> datetime:
    async with ctx.db.transaction() as session:
        row = await session.get(OutboxMessage, message_id)
        assert row is not None
        return row.next_attempt_at
