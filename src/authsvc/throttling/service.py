"""Throttling in PostgreSQL, so every limit holds across replicas (rules in rules.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.throttling import repository, rules
from authsvc.throttling.errors import TooManyAttempts


def raise_if_blocked(blocked_until: datetime | None, *, now: datetime) -> None:
    """TooManyAttempts while `blocked_until` (the latest back-off end among a caller's
    keys) lies in the future."""
    wait = rules.blocked_for(blocked_until, now=now)
    if wait is not None:
        raise TooManyAttempts(retry_after=wait)


@dataclass(frozen=True)
class Counted:
    """A key's failures after this one, and the addresses they came from this window."""

    key: str
    failures: int
    ips: list[str]
    starts_backoff: bool  # this failure used up the free ones


async def record_failure(
    session: AsyncSession,
    keys: Sequence[tuple[str, rules.Policy]],
    *,
    now: datetime,
    ip: str,
) -> list[Counted]:
    """Count one failure from `ip` against every key and set each key's back-off."""
    counted = []
    for key, policy in keys:
        failures, ips = await repository.count_failure(
            session, key, now=now, forget_before=now - policy.window, ip=ip
        )
        delay = rules.backoff_delay(failures, policy)
        if delay:
            await repository.block_until(session, key, now + delay)
        counted.append(Counted(key, failures, ips, rules.starts_backoff(failures, policy)))
    return counted


async def reset(session: AsyncSession, key: str) -> None:
    await repository.reset(session, key)


async def count_rate(
    session: AsyncSession, key: str, *, limit: int, window: timedelta, now: datetime
) -> int | None:
    """Count one hit in a fixed window (one round trip); the seconds to wait when it is
    over `limit`, else None."""
    count, started = await repository.count_hit(session, key, now=now, window_start=now - window)
    return rules.over_rate_for(count, started, limit=limit, window=window, now=now)
