"""Session lifetime rules: an idle timeout that slides with use, inside an absolute one,
and a use written at most once per touch interval."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import SQLColumnExpression, func

from authsvc.config import Settings


def absolute_expiry(started: datetime, settings: Settings) -> datetime:
    return started + settings.session_absolute_lifetime


def idle_expiry(now: datetime, idle_timeout: timedelta, expires_at: datetime) -> datetime:
    """`idle_timeout` after the last use, never past the absolute expiry."""
    return min(now + idle_timeout, expires_at)


def idle_expiry_sql(
    idle_until: SQLColumnExpression[datetime], expires_at: SQLColumnExpression[datetime]
) -> SQLColumnExpression[datetime]:
    """`idle_expiry` as SQL, `idle_until` being the use's time plus the idle timeout: a
    session's use slides it in the statement that finds the session."""
    return func.least(idle_until, expires_at)


def touch_before(now: datetime, touch_interval: timedelta) -> datetime:
    """A check writes the session's use only when the stored last use is older than this.

    Between writes the stored idle expiry stands, so an idle session ends up to one
    interval before `idle_timeout` after its true last use: early, never late.
    """
    return now - touch_interval


def reauthenticated_recently(
    reauthenticated_at: datetime | None, *, now: datetime, window: timedelta
) -> bool:
    """Whether the session's last password re-entry is within the window ("sudo mode")."""
    return reauthenticated_at is not None and now - reauthenticated_at < window
