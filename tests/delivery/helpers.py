"""Small factories for the delivery tests."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Literal

from sqlalchemy import text

from authsvc.context import ServiceContext
from authsvc.delivery import outbox
from authsvc.delivery.outbox import MessageStatus

OTP = "493817"
OTP_PARAMS = {"code": OTP, "expires_minutes": "10"}
CONFIRMATION_PARAMS = {
    "login": "anna",
    "time_utc": "2026-11-24 13:05",
    "time_local": "2026-11-24 14:05 CET",
    "ip": "203.0.113.7",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
    "not_me_url": "http://127.0.0.1:8000/not-me/t0ken",
    "factor": "a code by e-mail",
}


async def queue(
    ctx: ServiceContext,
    *,
    channel: Literal["email", "sms"] = "email",
    recipient: str | None = None,
    template: str = "login_otp",
    params: Mapping[str, str] | None = None,
    locale: str = "en",
    send_after: datetime | None = None,
) -> uuid.UUID:
    """Enqueue one message in its own transaction, as a caller would."""
    if params is None:
        params = OTP_PARAMS if template == "login_otp" else CONFIRMATION_PARAMS
    async with ctx.db.transaction() as session:
        return await outbox.enqueue(
            session,
            outbox.new_message(
                keyring=ctx.keyring,
                now=ctx.clock.now(),
                channel=channel,
                recipient=recipient or ("+48601234567" if channel == "sms" else "anna@example.com"),
                template=template,
                params=params,
                locale=locale,
                send_after=send_after,
                secret_params=("code",) if template == "login_otp" else (),
            ),
        )


async def status_of(ctx: ServiceContext, message_id: uuid.UUID) -> MessageStatus:
    async with ctx.db.transaction() as session:
        found = await outbox.message_status(session, message_id)
    assert found is not None
    return found


async def states(ctx: ServiceContext) -> dict[str, int]:
    async with ctx.db.transaction() as session:
        rows = await session.execute(
            text("SELECT state, count(*) FROM outbox_messages GROUP BY state")
        )
        return {row[0]: row[1] for row in rows}


async def raw_row(ctx: ServiceContext, message_id: uuid.UUID) -> str:
    """The whole row as PostgreSQL stores it (bytea as hex), for at-rest checks."""
    async with ctx.db.transaction() as session:
        found = await session.scalar(
            text("SELECT row_to_json(o)::text FROM outbox_messages o WHERE id = :id"),
            {"id": message_id},
        )
    assert found is not None
    return str(found)


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float = 15, interval: float = 0.02
) -> None:
    """Wait for a condition the code under test brings about on its own (a worker running)."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(interval)


async def run_worker_until(ctx: ServiceContext, check: Callable[[], Awaitable[bool]]) -> None:
    """Run a delivery worker until `check` holds, then stop it as SIGTERM would."""
    from authsvc.delivery.worker import DeliveryWorker

    async with DeliveryWorker(ctx) as worker:
        runner = asyncio.create_task(worker.run())
        try:
            await eventually(check)
        finally:
            worker.stop()
            await runner
