"""What /metrics needs beyond the counters: who may read it, and the figures read at
scrape time from the database and the pool."""

from __future__ import annotations

import hmac

from authsvc.config import Settings
from authsvc.context import ServiceContext
from authsvc.delivery import repository as outbox_rows
from authsvc.health.errors import MetricsClosed, MetricsTokenRequired
from authsvc.ops.metrics import DB_POOL_IN_USE, OUTBOX_MESSAGES, OUTBOX_OLDEST_QUEUED


def check_metrics_access(settings: Settings, token: str | None) -> None:
    """Open in dev mode without a token; otherwise only with the configured one."""
    expected = settings.metrics_token
    if expected is None:
        if settings.is_dev:
            return
        raise MetricsClosed()
    if token is None or not hmac.compare_digest(token, expected.get_secret_value()):
        raise MetricsTokenRequired()


async def observe(ctx: ServiceContext) -> None:
    """Set the gauges that are read, not counted: the outbox backlog and the pool."""
    now = ctx.clock.now()
    async with ctx.db.autocommit() as session:
        backlog = await outbox_rows.backlog(session, now=now)
    for channel, count in backlog.due.items():
        OUTBOX_MESSAGES.labels(channel=channel, state="due").set(count)
    for channel, count in backlog.waiting.items():
        OUTBOX_MESSAGES.labels(channel=channel, state="waiting").set(count)
    oldest = backlog.oldest_due_since
    OUTBOX_OLDEST_QUEUED.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
    DB_POOL_IN_USE.set(ctx.db.connections_in_use())
