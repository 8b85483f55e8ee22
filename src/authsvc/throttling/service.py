"""Throttling in PostgreSQL, so every limit holds across replicas (rules in rules.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.config import Settings
from authsvc.throttling import repository, rules
from authsvc.throttling.errors import TooManyAttempts


def raise_if_blocked(blocked_until: datetime | None, *, now: datetime) -> None:
    """TooManyAttempts while `blocked_until` (the latest back-off end among a caller's
    keys) lies in the future."""
    wait = rules.blocked_for(blocked_until, now=now)
    if wait is not None:
        raise TooManyAttempts(retry_after=wait)


async def record_failure(
    session: AsyncSession, keys: list[str], *, now: datetime, settings: Settings
) -> None:
    """Count one failure against every key and set each key's back-off."""
    for key in keys:
        failures = await repository.count_failure(
            session, key, now=now, forget_before=now - settings.throttle_window
        )
        delay = rules.backoff_delay(failures, settings)
        if delay:
            await repository.block_until(session, key, now + delay)


async def reset(session: AsyncSession, key: str) -> None:
    await repository.reset(session, key)


async def count_rate(
    session: AsyncSession, key: str, *, limit: int, window: timedelta, now: datetime
) -> int | None:
    """Count one hit in a fixed window (one round trip); the seconds to wait when it is
    over `limit`, else None."""
    count, started = await repository.count_hit(session, key, now=now, window_start=now - window)
    return rules.over_rate_for(count, started, limit=limit, window=window, now=now)
