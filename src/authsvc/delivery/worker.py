"""The delivery worker: takes due messages from the outbox and sends them.

Claim (commit) -> send outside any transaction -> record the outcome. A worker that dies
between claim and record leaves the message leased; once the lease ends another worker
sends it again. Delivery is at least once, and the repeats after a crash are at most the
messages the worker had in hand (AUTHSVC_DELIVERY_CONCURRENCY). Every attempt of a
message carries the same identity, from its outbox row id, so the far end can drop a
repeat: the e-mail's Message-ID, the SMS webhook's Idempotency-Key, SMSAPI's idx with
check_idx=1 (SMSAPI itself refuses the repeat). Twilio takes no such key.
Workers wake on NOTIFY, on the next retry falling due, and on a slow poll as a fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Literal, Self

from authsvc.accounts.phones import country_of
from authsvc.context import ServiceContext
from authsvc.delivery import rendering, repository
from authsvc.delivery.adapters import Adapter, Outgoing, build_adapters
from authsvc.delivery.errors import DeliveryError, SealError
from authsvc.delivery.listener import describe_wake, listen, listen_url
from authsvc.delivery.outbox import open_params
from authsvc.delivery.rendering import Channel
from authsvc.delivery.repository import Claimed
from authsvc.ops.metrics import DELIVERY_ATTEMPTS, DELIVERY_LATENCY, SMS_SENT

log = logging.getLogger("authsvc.delivery")

RECORD_TRIES = 3
_EVENTS = {"sent": "sent", "retry": "failed", "abandoned": "abandoned"}
MIN_SLEEP = 0.05  # seconds; when due rows are momentarily locked by someone else


@dataclass(frozen=True)
class Outcome:
    state: Literal["sent", "retry", "abandoned"]
    reason: str = ""  # safe to log: http_503, smtp_550, timeout, expired...
    error: str | None = None  # kept as last_error: the provider's words, secrets redacted
    retry_at: datetime | None = None


def backoff(base: timedelta, cap: timedelta, attempt: int) -> timedelta:
    """Exponential in the attempt number, capped, with jitter so workers do not stampede."""
    ceiling: timedelta = min(cap, base * (2 ** min(attempt - 1, 30)))
    return ceiling * random.uniform(0.5, 1.0)


def redact(text: str, secrets: list[str]) -> str:
    """Providers may echo what they were sent; never keep a secret parameter from it."""
    for secret in secrets:
        if len(secret) >= 3:
            text = text.replace(secret, "[redacted]")
    return text


class DeliveryWorker:
    """`async with DeliveryWorker(ctx) as worker: await worker.run()` until `stop()`."""

    def __init__(
        self,
        ctx: ServiceContext,
        *,
        adapters: Mapping[Channel, Adapter] | None = None,
        listen: bool = True,
    ) -> None:
        settings = ctx.settings
        self._ctx = ctx
        self._adapters = dict(adapters) if adapters is not None else build_adapters(settings)
        self._listen = listen
        self._concurrency = settings.delivery_concurrency
        self._batch_size = settings.delivery_batch_size
        self._poll = settings.delivery_poll_interval.total_seconds()
        self._lease = settings.delivery_lease
        self._send_deadline = settings.delivery_lease.total_seconds() / 2
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._full = False
        self._recorder = _Recorder(ctx)
        self.listening = asyncio.Event()  # set while NOTIFYs reach this worker

    # --- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        for adapter in self._adapters.values():
            await adapter.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        await self._drain()
        for adapter in self._adapters.values():
            with contextlib.suppress(Exception):
                await adapter.aclose()

    def stop(self) -> None:
        """Take no new messages; run() returns once the ones in hand are finished."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        listener = None
        url = listen_url(self._ctx.settings, self._ctx.db.engine.url) if self._listen else None
        if url is not None:
            listener = asyncio.create_task(
                listen(
                    url,
                    self._wake.set,
                    check_every=self._poll,
                    on_listening=self._set_listening,
                ),
                name="authsvc-delivery-listener",
            )
        wake = describe_wake(self._ctx.settings, url) if self._listen else "poll (LISTEN off)"
        log.info("delivery worker started concurrency=%d wake=%s", self._concurrency, wake)
        try:
            while not self._stopping:
                self._wake.clear()
                await self._sleep(await self._step())
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
            await self._drain()
            log.info("delivery worker stopped")

    def _set_listening(self, listening: bool) -> None:
        if listening:
            self.listening.set()
        else:
            self.listening.clear()

    async def run_once(self) -> int:
        """Claim one batch of due messages and process it to the end; returns how many."""
        batch = (await self._claim(self._batch_size)).messages
        await asyncio.gather(*(self._process(message) for message in batch))
        return len(batch)

    # --- the loop ------------------------------------------------------------------------

    async def _step(self) -> float:
        """Start what is due; return how long to sleep before looking again."""
        free = self._concurrency - len(self._tasks)
        self._full = free <= 0
        if self._full:
            return self._poll  # a finishing send wakes us sooner
        limit = min(free, self._batch_size)
        try:
            claim = await self._claim(limit)
        except Exception as error:  # the database may be briefly unreachable
            log.warning("delivery claim failed error=%s", type(error).__name__)
            return self._poll
        for message in claim.messages:
            self._spawn(message)
        if len(claim.messages) == limit:
            return 0.0  # there may be more
        # The claim said when the next message comes due: no second query to ask.
        if claim.next_due_at is None:
            return self._poll
        wait = (claim.next_due_at - self._ctx.clock.now()).total_seconds()
        return min(self._poll, max(MIN_SLEEP, wait))

    async def _sleep(self, seconds: float) -> None:
        if seconds <= 0 or self._stopping:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    async def _claim(self, limit: int) -> repository.Claim:
        # One statement, atomic alone: autocommit spares the BEGIN and COMMIT round trips.
        now = self._ctx.clock.now()
        async with self._ctx.db.autocommit() as session:
            return await repository.claim(
                session, now=now, lease_until=now + self._lease, limit=limit
            )

    def _spawn(self, message: Claimed) -> None:
        task = asyncio.create_task(self._process(message), name=f"delivery-{message.id}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._full:
            self._wake.set()

    async def _drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- one message ---------------------------------------------------------------------

    async def _process(self, message: Claimed) -> None:
        outcome = await self._attempt(message)
        await self._record(message, outcome)
        # The loop may be sleeping past this retry's time, or past the messages this one
        # held back while it was failing (repository: a recipient's messages in order).
        if outcome.state == "retry" or message.failed_before:
            self._wake.set()

    async def _attempt(self, message: Claimed) -> Outcome:
        settings = self._ctx.settings
        if self._ctx.clock.now() >= message.send_after + settings.delivery_ttl:
            return Outcome("abandoned", "expired", "not sent within AUTHSVC_DELIVERY_TTL")
        try:
            params = open_params(
                self._ctx.keyring, message.id, message.params, message.sealed_params
            )
            rendered = rendering.render(message.template, message.channel, message.locale, params)
        except SealError:
            return Outcome("abandoned", "cannot_decrypt", "no configured secret key opens it")
        except ValueError:
            return Outcome("abandoned", "template_error", "parameters do not fit the template")
        secrets = [value for key, value in params.items() if key not in message.params]
        outgoing = Outgoing(
            message_id=message.id,
            recipient=message.recipient,
            locale=message.locale,
            text=rendered.text,
            subject=rendered.subject,
            html=rendered.html,
        )
        try:
            async with asyncio.timeout(self._send_deadline):
                await self._adapters[message.channel].send(outgoing)
        except DeliveryError as error:
            detail = redact(str(error), secrets)
            if error.permanent:
                return Outcome("abandoned", error.reason, detail)
            return self._retry(message, error.reason, detail)
        except TimeoutError:
            return self._retry(message, "timeout", "the send took too long")
        except Exception as error:  # an adapter bug must not stop the worker
            return self._retry(message, type(error).__name__, type(error).__name__)
        return Outcome("sent")

    def _retry(self, message: Claimed, reason: str, error: str) -> Outcome:
        settings = self._ctx.settings
        if message.attempts >= settings.delivery_max_attempts:
            return Outcome("abandoned", reason, error)
        retry_at = self._ctx.clock.now() + backoff(
            settings.delivery_backoff_base, settings.delivery_backoff_max, message.attempts
        )
        if retry_at >= message.send_after + settings.delivery_ttl:
            return Outcome("abandoned", reason, error)
        return Outcome("retry", reason, error, retry_at)

    async def _record(self, message: Claimed, outcome: Outcome) -> None:
        for attempt in range(RECORD_TRIES):
            try:
                recorded = await self._recorder.record(message, outcome)
                break
            except Exception as error:
                log.warning(
                    "delivery could not record message_id=%s error=%s",
                    message.id,
                    type(error).__name__,
                )
                if attempt + 1 < RECORD_TRIES:
                    await asyncio.sleep(0.2 * 2**attempt)
        else:
            return  # the lease runs out and the message is tried again
        provider = self._adapters[message.channel].name
        where = (
            f"message_id={message.id} template={message.template} channel={message.channel} "
            f"provider={provider} attempt={message.attempts}"
        )
        if not recorded:
            log.warning("delivery outcome discarded, message no longer held %s", where)
            return
        now = self._ctx.clock.now()
        DELIVERY_ATTEMPTS.labels(message.channel, provider, outcome.state).inc()
        event = {
            "event": f"message_{_EVENTS[outcome.state]}",
            "outcome": outcome.state,
            "channel": message.channel,
            "provider": provider,
            "template": message.template,
            "attempt": message.attempts,
            "reason": outcome.reason or None,
        }
        if outcome.state == "sent":
            DELIVERY_LATENCY.labels(message.channel).observe(
                max(0.0, (now - message.send_after).total_seconds())
            )
            if message.channel == "sms":
                # On send, not at queue time: what the operator pays for.
                SMS_SENT.labels(country_of(message.recipient) or "unknown").inc()
            log.info("delivery sent %s", where, extra=event)
        elif outcome.state == "retry":
            assert outcome.retry_at is not None
            delay = (outcome.retry_at - now).total_seconds()
            log.warning(
                "delivery failed %s error=%s retry_in=%.1fs", where, outcome.reason, delay,
                extra=event,
            )  # fmt: skip
        else:
            log.warning("delivery abandoned %s error=%s", where, outcome.reason, extra=event)


class _Recorder:
    """Writes outcomes with group commit: whatever finishes while one write is under way
    goes into the next, so a busy worker commits once per handful of messages while an
    idle one still records each message at once.

    An outcome waits for no timer or batch size, only for the write under way, so the
    window in which a crash makes a repeat is hardly wider than with a commit per
    outcome: on a busy worker, that measured p50 31-41 ms against 43-63 ms here, p99
    overlapping (the event loop's queue sets it, not the batching), at no more msg/s."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._pending: list[tuple[Claimed, Outcome, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, message: Claimed, outcome: Outcome) -> bool:
        """True when recorded; False when the message is no longer this worker's."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((message, outcome, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending())
        return await future

    async def _write_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                held = await self._write([(message, outcome) for message, outcome, _ in batch])
            except Exception as error:
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(error)
            else:
                for message, _, future in batch:
                    if not future.done():
                        future.set_result(message.id in held)

    async def _write(self, batch: list[tuple[Claimed, Outcome]]) -> set[uuid.UUID]:
        now = self._ctx.clock.now()
        sent = [
            (message.id, message.attempts) for message, outcome in batch if outcome.state == "sent"
        ]
        # Each statement is atomic alone, and no outcome depends on another: autocommit.
        async with self._ctx.db.autocommit() as session:
            held = await repository.mark_sent_many(session, sent, now=now)
            for message, outcome in batch:
                if outcome.state == "retry":
                    assert outcome.retry_at is not None
                    changed = await repository.mark_retry(
                        session,
                        message.id,
                        attempt=message.attempts,
                        retry_at=outcome.retry_at,
                        error=_last_error(outcome),
                    )
                elif outcome.state == "abandoned":
                    changed = await repository.mark_abandoned(
                        session,
                        message.id,
                        attempt=message.attempts,
                        now=now,
                        error=_last_error(outcome),
                    )
                else:
                    continue
                if changed:
                    held.add(message.id)
        return held


def _last_error(outcome: Outcome) -> str:
    return (outcome.error or outcome.reason)[:500]


@asynccontextmanager
async def delivery_worker(ctx: ServiceContext) -> AsyncIterator[None]:
    """The worker as a background service of `authsvc serve`."""
    async with DeliveryWorker(ctx) as worker:
        task = asyncio.create_task(worker.run(), name="authsvc-delivery")
        try:
            yield
        finally:
            worker.stop()
            await task
