"""Throttling rules, as pure functions of the counters, the clock and the settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from authsvc.throttling import rules
from tests.conftest import make_settings

NOW = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)


def test_a_back_off_in_the_past_blocks_nothing() -> None:
    assert rules.blocked_for(None, now=NOW) is None
    assert rules.blocked_for(NOW, now=NOW) is None
    assert rules.blocked_for(NOW + timedelta(seconds=1.2), now=NOW) == 2


def test_the_wait_doubles_after_the_free_failures_and_is_capped() -> None:
    settings = make_settings(throttle_free_failures=3)
    waits = [
        rules.backoff_delay(n, rules.login_policy(settings)).total_seconds() for n in range(1, 9)
    ]
    assert waits == [0, 0, 0, 1, 2, 4, 8, 16]
    assert rules.backoff_delay(40, rules.login_policy(settings)) == settings.throttle_max_delay


def test_a_rate_refuses_past_its_limit_until_the_window_ends() -> None:
    window = timedelta(minutes=1)
    started = NOW - timedelta(seconds=45)
    assert rules.over_rate_for(120, started, limit=120, window=window, now=NOW) is None
    assert rules.over_rate_for(121, started, limit=120, window=window, now=NOW) == 15


def test_login_keys_ignore_case_and_surrounding_spaces() -> None:
    assert rules.login_key(" Jan ") == rules.login_key("jan") == "login:name:jan"
