"""The contact change's rules, without a database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from authsvc.contacts import rules
from authsvc.contacts.models import ContactChange
from tests.conftest import make_settings

NOW = datetime(2026, 12, 3, 16, 20, 30, tzinfo=UTC)


def _change(**overrides: object) -> ContactChange:
    values: dict[str, object] = {
        "id": uuid.uuid4(), "account_id": uuid.uuid4(), "kind": "email",
        "new_value": "n@example.com", "old_value": "o@example.com", "code_hash": bytes(32),
        "created_at": NOW, "expires_at": NOW + timedelta(minutes=10), "attempts": 0,
        "consumed_at": None, "ip": "203.0.113.7",
    }  # fmt: skip
    return ContactChange(**{**values, **overrides})


def test_a_live_change_with_attempts_left_is_usable() -> None:
    assert rules.unusable(_change(attempts=4), now=NOW, settings=make_settings()) is None


def test_used_comes_before_expired_and_exhausted() -> None:
    change = _change(consumed_at=NOW, expires_at=NOW, attempts=5)
    refusal = rules.unusable(change, now=NOW, settings=make_settings())
    assert refusal is not None and refusal.extra["reason"] == "used"


def test_a_change_is_expired_at_its_expiry_instant() -> None:
    refusal = rules.unusable(_change(expires_at=NOW), now=NOW, settings=make_settings())
    assert refusal is not None and refusal.extra["reason"] == "expired"


def test_five_attempts_exhaust_a_change() -> None:
    refusal = rules.unusable(_change(attempts=5), now=NOW, settings=make_settings())
    assert refusal is not None and refusal.extra["reason"] == "exhausted"


def test_an_email_differing_only_in_case_is_the_same_address() -> None:
    assert rules.same_address("email", "Jan@Example.com", "jan@example.com")
    assert not rules.same_address("email", "jan@example.com", "jan2@example.com")
    assert not rules.same_address("phone", None, "+48601234567")
    assert rules.same_address("phone", "+48601234567", "+48601234567")


def test_a_refused_sms_is_retried_when_the_budgets_hour_ends() -> None:
    assert rules.sms_retry_after(NOW) == 39 * 60 + 30
    assert rules.sms_retry_after(NOW.replace(minute=0, second=0)) == 3600
