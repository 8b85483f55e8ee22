"""Throttling in PostgreSQL, so every limit holds across replicas (rules in rules.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.throttling import repository, rules


async def reset(session: AsyncSession, key: str) -> None:
    await repository.reset(session, key)


async def count_rate(
    session: AsyncSession, key: str, *, limit: int, window: timedelta, now: datetime
) -> int | None:
    """Count one hit in a fixed window (one round trip); the seconds to wait when it is
    over `limit`, else None."""
    count, started = await repository.count_hit(session, key, now=now, window_start=now - window)
    return rules.over_rate_for(count, started, limit=limit, window=window, now=now)
