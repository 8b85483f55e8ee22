"""Throttling in PostgreSQL: exponential back-off after failures, and fixed-window rates.

Failures (wrong passwords): the first `throttle_free_failures` cost nothing, each one
after that doubles the wait, capped at `throttle_max_delay`; a quiet `throttle_window`
forgets them. There is no permanent lockout, so an attacker cannot lock a customer out
for good. Rates (support keys, code generation): at most `limit` hits per window.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.config import Settings
from authsvc.core.errors import RetryLater
from authsvc.throttling.models import ThrottleCounter


class TooManyAttempts(RetryLater):
    status = 429
    code = "too_many_attempts"
    title = "Too many attempts"


def login_key(login: str) -> str:
    # Keyed by the login as typed (not the account id) so unknown logins are throttled
    # exactly like known ones and a 429 reveals nothing about existence.
    return f"login:name:{login.strip().lower()}"


def ip_key(ip: str) -> str:
    return f"login:ip:{ip}"


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def raise_if_blocked(blocked_until: datetime | None, *, now: datetime) -> None:
    """TooManyAttempts while `blocked_until` (the latest back-off end among a caller's
    keys) lies in the future."""
    if blocked_until is not None and blocked_until > now:
        raise TooManyAttempts(
            "Too many failed attempts; wait before trying again.",
            retry_after=_seconds_until(blocked_until, now),
        )


def backoff_delay(failures: int, settings: Settings) -> timedelta:
    """Wait imposed after `failures` consecutive failures."""
    excess = failures - settings.throttle_free_failures
    if excess <= 0:
        return timedelta(0)
    delay = settings.throttle_base_delay * (1 << min(excess - 1, 30))
    return min(delay, settings.throttle_max_delay)


_RECORD_FAILURE = text(
    """
    INSERT INTO throttle_counters AS t (key, count, window_started_at, updated_at)
    VALUES (:key, 1, :now, :now)
    ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN t.updated_at < :forget_before THEN 1 ELSE t.count + 1 END,
        window_started_at = CASE WHEN t.updated_at < :forget_before
                                 THEN :now ELSE t.window_started_at END,
        updated_at = :now
    RETURNING count
    """
)


async def record_failure(
    session: AsyncSession, keys: list[str], *, now: datetime, settings: Settings
) -> None:
    """Count one failure against every key and set each key's back-off."""
    for key in keys:
        params = {"key": key, "now": now, "forget_before": now - settings.throttle_window}
        failures = (await session.execute(_RECORD_FAILURE, params)).scalar_one()
        delay = backoff_delay(failures, settings)
        if delay:
            await session.execute(
                text("UPDATE throttle_counters SET blocked_until = :until WHERE key = :key"),
                {"key": key, "until": now + delay},
            )


async def reset(session: AsyncSession, key: str) -> None:
    await session.execute(delete(ThrottleCounter).where(ThrottleCounter.key == key))


_HIT = text(
    """
    INSERT INTO throttle_counters AS t (key, count, window_started_at, updated_at)
    VALUES (:key, 1, :now, :now)
    ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN t.window_started_at <= :window_start THEN 1 ELSE t.count + 1 END,
        window_started_at = CASE WHEN t.window_started_at <= :window_start
                                 THEN :now ELSE t.window_started_at END,
        updated_at = :now
    RETURNING count, window_started_at
    """
)


async def hit_rate_limit(
    session: AsyncSession,
    key: str,
    *,
    limit: int,
    window: timedelta,
    now: datetime,
    error: type[RetryLater] = TooManyAttempts,
) -> None:
    """Count one hit in a fixed window (one round trip); raise `error` past `limit`."""
    params = {"key": key, "now": now, "window_start": now - window}
    count, started = (await session.execute(_HIT, params)).one()
    if count > limit:
        raise error(
            "Rate limit exceeded; slow down.", retry_after=_seconds_until(started + window, now)
        )
