"""Throttling rules, as pure functions of the counters, the clock and the settings.

Failures (wrong passwords): the first free failures of a key cost nothing, each one after
that doubles the wait, capped at a maximum; a quiet window forgets them. There is no
permanent lockout, so an attacker cannot lock a customer out for good. Each kind of key
has its own numbers (`Policy`): a login name or a device a few free failures, a client IP
many more, because one address may be a NAT in front of dozens of customers.

Which key a failure counts against (OWASP "device cookies"): a browser that once
completed a login for this name presents its signed device cookie, and its failures
count against that device only; everyone else shares the login name's back-off. So an
attacker hammering a login slows down only clients without the customer's cookie.

Rates (support keys, code generation, password resets): at most `limit` hits per fixed
window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from authsvc.accounts import logins
from authsvc.config import Settings


@dataclass(frozen=True)
class Policy:
    """The back-off numbers of one kind of failure counter."""

    free_failures: int
    base_delay: timedelta
    max_delay: timedelta
    window: timedelta  # a quiet window this long forgets the failures


def login_policy(settings: Settings) -> Policy:
    """For a login name, and for one device cookie of that login."""
    return Policy(
        settings.throttle_free_failures,
        settings.throttle_base_delay,
        settings.throttle_max_delay,
        settings.throttle_window,
    )


def ip_policy(settings: Settings) -> Policy:
    return Policy(
        settings.throttle_ip_free_failures,
        settings.throttle_ip_base_delay,
        settings.throttle_ip_max_delay,
        settings.throttle_ip_window,
    )


def login_key(login: str) -> str:
    # Keyed by the login as typed (not the account id) so unknown logins are throttled
    # exactly like known ones and a 429 reveals nothing about existence; folded the one
    # way every lookup folds it, so no spelling of a login gets a counter of its own
    # (what can never be a login reaches no account, and keeps its own spelling).
    return f"login:name:{logins.fold(login) or login.strip()}"


def ip_key(ip: str) -> str:
    return f"login:ip:{ip}"


def device_key(device_id: str) -> str:
    """`device_id` is the digest of a device cookie's nonce, never the cookie itself."""
    return f"login:device:{device_id}"


def starts_backoff(failures: int, policy: Policy) -> bool:
    """True for the one failure that uses up the free ones: counts are returned by an
    atomic increment, so exactly one caller per window sees this number."""
    return failures == policy.free_failures + 1


def seconds_until(moment: datetime, now: datetime) -> int:
    """Whole seconds to wait (at least 1), as Retry-After says them."""
    return max(1, math.ceil((moment - now).total_seconds()))


def blocked_for(blocked_until: datetime | None, *, now: datetime) -> int | None:
    """Seconds left of a back-off (the latest among a caller's keys), or None if none runs."""
    if blocked_until is None or blocked_until <= now:
        return None
    return seconds_until(blocked_until, now)


def backoff_delay(failures: int, policy: Policy) -> timedelta:
    """Wait imposed after `failures` consecutive failures."""
    excess = failures - policy.free_failures
    if excess <= 0:
        return timedelta(0)
    delay = policy.base_delay * (1 << min(excess - 1, 30))
    return min(delay, policy.max_delay)


def over_rate_for(
    count: int, window_started_at: datetime, *, limit: int, window: timedelta, now: datetime
) -> int | None:
    """Seconds until the window ends when `count` hits exceed `limit`, else None."""
    if count <= limit:
        return None
    return seconds_until(window_started_at + window, now)
