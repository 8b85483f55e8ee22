"""Session lifetime rules, in Python and as the SQL the touch runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql

from authsvc.sessions.models import UserSession
from authsvc.sessions.rules import absolute_expiry, idle_expiry, idle_expiry_sql, touch_before
from tests.conftest import make_settings

NOW = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)


def test_the_idle_expiry_slides_but_never_past_the_absolute_one() -> None:
    settings = make_settings()
    end = absolute_expiry(NOW, settings)
    assert end == NOW + timedelta(hours=12)
    idle = timedelta(minutes=30)
    assert idle_expiry(NOW, idle, end) == NOW + idle
    assert idle_expiry(end - timedelta(minutes=5), idle, end) == end


def test_the_same_rule_renders_as_sql_on_the_column() -> None:
    expression = idle_expiry_sql(bindparam("idle_until"), UserSession.expires_at)
    sql = str(expression.compile(dialect=postgresql.dialect()))  # type: ignore[attr-defined,no-untyped-call]
    assert sql.startswith("least(") and "sessions.expires_at" in sql


def test_a_use_is_written_only_when_the_last_written_one_is_older_than_the_interval() -> None:
    interval = timedelta(seconds=60)
    assert touch_before(NOW, interval) == NOW - interval
