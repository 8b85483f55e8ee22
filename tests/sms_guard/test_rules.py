"""The budgets one SMS counts against, and the hour it counts in (pure rules)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from authsvc.accounts.phones import Textable
from authsvc.sms_guard.rules import Budget, budgets_for, hour_of, ip_subject
from tests.conftest import make_settings


def test_one_sms_counts_against_five_budgets_widest_first() -> None:
    settings = make_settings(
        sms_budget_number=1, sms_budget_prefix=2, sms_budget_country=3, sms_budget_service=4,
        sms_budget_ip=5,
    )  # fmt: skip
    assert budgets_for(Textable("+48601234567", "PL"), "203.0.113.7", settings) == [
        Budget("service", "*", 4),
        Budget("country", "PL", 3),
        Budget("prefix", "+4860123", 2),
        Budget("number", "+48601234567", 1),
        Budget("ip", "203.0.113.7", 5),
    ]


def test_the_defaults_are_the_documented_ones() -> None:
    budgets = budgets_for(Textable("+48601234567", "PL"), "203.0.113.7", make_settings())
    assert [b.allowed for b in budgets] == [2000, 1000, 20, 5, 10]


@pytest.mark.parametrize(
    ("ip", "subject"),
    [
        ("203.0.113.7", "203.0.113.7"),
        # One subscriber holds a whole /64: rotating addresses in it does not help.
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("testclient", "testclient"),
    ],
)
def test_a_client_address_counts_as_its_subscriber(ip: str, subject: str) -> None:
    assert ip_subject(ip) == subject


def test_the_window_is_the_clock_hour() -> None:
    now = datetime(2026, 12, 3, 14, 59, 59, 999999, tzinfo=UTC)
    assert hour_of(now) == datetime(2026, 12, 3, 14, tzinfo=UTC)
