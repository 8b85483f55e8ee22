"""Throttling rules, as pure functions of the counters, the clock and the settings.

Failures (wrong passwords): the first `throttle_free_failures` cost nothing, each one
after that doubles the wait, capped at `throttle_max_delay`; a quiet `throttle_window`
forgets them. There is no permanent lockout, so an attacker cannot lock a customer out
for good. Rates (support keys, code generation): at most `limit` hits per fixed window.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from authsvc.config import Settings


def login_key(login: str) -> str:
    # Keyed by the login as typed (not the account id) so unknown logins are throttled
    # exactly like known ones and a 429 reveals nothing about existence.
    return f"login:name:{login.strip().lower()}"


def ip_key(ip: str) -> str:
    return f"login:ip:{ip}"


def seconds_until(moment: datetime, now: datetime) -> int:
    """Whole seconds to wait (at least 1), as Retry-After says them."""
    return max(1, math.ceil((moment - now).total_seconds()))


def blocked_for(blocked_until: datetime | None, *, now: datetime) -> int | None:
    """Seconds left of a back-off (the latest among a caller's keys), or None if none runs."""
    if blocked_until is None or blocked_until <= now:
        return None
    return seconds_until(blocked_until, now)


def backoff_delay(failures: int, settings: Settings) -> timedelta:
    """Wait imposed after `failures` consecutive failures."""
    excess = failures - settings.throttle_free_failures
    if excess <= 0:
        return timedelta(0)
    delay = settings.throttle_base_delay * (1 << min(excess - 1, 30))
    return min(delay, settings.throttle_max_delay)


def over_rate_for(
    count: int, window_started_at: datetime, *, limit: int, window: timedelta, now: datetime
) -> int | None:
    """Seconds until the window ends when `count` hits exceed `limit`, else None."""
    if count <= limit:
        return None
    return seconds_until(window_started_at + window, now)
