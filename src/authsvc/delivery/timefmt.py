"""Times as customers read them in messages: UTC and their local time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def utc_and_local(moment: datetime, timezone: str) -> tuple[str, str]:
    """(`2026-11-24 09:15 UTC`, `2026-11-24 10:15 CET`)."""
    utc = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    local = moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")
    return utc, local
