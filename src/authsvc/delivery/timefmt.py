"""Times as customers read them in messages: UTC, then their local time in brackets."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def utc_and_local(moment: datetime, timezone: str) -> tuple[str, str]:
    """(`2026-11-24 20:25 UTC`, `21:25 Europe/Warsaw`), which messages show as
    `2026-11-24 20:25 UTC (21:25 Europe/Warsaw)`. The local date is repeated only when it
    is another day than in UTC."""
    utc = moment.astimezone(UTC)
    local = moment.astimezone(ZoneInfo(timezone))
    shown = "%H:%M" if local.date() == utc.date() else "%Y-%m-%d %H:%M"
    return utc.strftime("%Y-%m-%d %H:%M UTC"), f"{local.strftime(shown)} {timezone}"
