"""Session lifetime rules: an idle timeout that slides with use, inside an absolute one."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import overload

from sqlalchemy import SQLColumnExpression, func

from authsvc.config import Settings


def absolute_expiry(started: datetime, settings: Settings) -> datetime:
    return started + settings.session_absolute_lifetime


@overload
def idle_expiry(now: datetime, idle_timeout: timedelta, expires_at: datetime) -> datetime: ...
@overload
def idle_expiry(
    now: datetime, idle_timeout: timedelta, expires_at: SQLColumnExpression[datetime]
) -> SQLColumnExpression[datetime]: ...
def idle_expiry(
    now: datetime, idle_timeout: timedelta, expires_at: datetime | SQLColumnExpression[datetime]
) -> datetime | SQLColumnExpression[datetime]:
    """`idle_timeout` after the last use, never past the absolute expiry.

    Given the column instead of a time, the same rule as SQL, so a session's use slides
    it in the statement that finds the session.
    """
    slid = now + idle_timeout
    if isinstance(expires_at, datetime):
        return min(slid, expires_at)
    return func.least(slid, expires_at)


def reauthenticated_recently(
    reauthenticated_at: datetime | None, *, now: datetime, window: timedelta
) -> bool:
    """Whether the session's last password re-entry is within the window ("sudo mode")."""
    return reauthenticated_at is not None and now - reauthenticated_at < window
