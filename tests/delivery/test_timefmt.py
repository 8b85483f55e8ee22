"""Times in messages read naturally: UTC, then the local time in brackets."""

from __future__ import annotations

from datetime import UTC, datetime

from authsvc.delivery.timefmt import utc_and_local


def test_utc_then_the_local_time_with_its_zone() -> None:
    moment = datetime(2026, 11, 24, 20, 25, tzinfo=UTC)
    assert utc_and_local(moment, "Europe/Warsaw") == ("2026-11-24 20:25 UTC", "21:25 Europe/Warsaw")


def test_the_local_date_is_shown_when_it_is_another_day() -> None:
    moment = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    local = utc_and_local(moment, "Europe/Warsaw")[1]
    assert local == "2026-11-25 00:30 Europe/Warsaw"
