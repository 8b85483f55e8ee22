"""The login's refusal rules, as pure functions: no database, no clock but the one given."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from authsvc.accounts.models import Account
from authsvc.delivery.outbox import MessageStatus
from authsvc.login import rules
from authsvc.login.errors import (
    ChallengeExhausted,
    ChallengeExpired,
    ChannelUnavailable,
    ResendLimitReached,
    ResendTooSoon,
)
from authsvc.login.models import LoginChallenge
from tests.conftest import make_settings

NOW = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)
SETTINGS = make_settings()


def challenge(**values: object) -> LoginChallenge:
    fields: dict[str, object] = {
        "id": uuid.uuid4(),
        "expires_at": NOW + timedelta(minutes=5),
        "last_sent_at": NOW - timedelta(seconds=30),
        "created_at": NOW - timedelta(seconds=30),
        "message_id": uuid.uuid4(),  # a code went out
        "attempts": 0,
        "resends": 0,
        "consumed_at": None,
    }
    return LoginChallenge(**(fields | values))


def test_a_fresh_challenge_is_usable() -> None:
    assert rules.unusable(challenge(), now=NOW, max_attempts=5) is None


@pytest.mark.parametrize(
    ("values", "error", "detail"),
    [
        ({"consumed_at": NOW}, ChallengeExpired, ChallengeExpired.USED),
        ({"expires_at": NOW}, ChallengeExpired, ChallengeExpired.default_detail),
        ({"attempts": 5}, ChallengeExhausted, ChallengeExhausted.default_detail),
    ],
)
def test_used_expired_and_exhausted_challenges_are_unusable(
    values: dict[str, object], error: type[Exception], detail: str
) -> None:
    refusal = rules.unusable(challenge(**values), now=NOW, max_attempts=5)
    assert isinstance(refusal, error)
    assert str(refusal) == detail


def test_resend_waits_for_the_cooldown_and_says_how_long() -> None:
    recent = challenge(last_sent_at=NOW - timedelta(seconds=10))
    refusal = rules.resend_refusal(recent, now=NOW, settings=SETTINGS)
    assert isinstance(refusal, ResendTooSoon)
    assert refusal.headers["Retry-After"] == "20"
    assert rules.resend_refusal(challenge(), now=NOW, settings=SETTINGS) is None


def test_a_challenge_that_sent_nothing_may_send_its_first_code_at_once() -> None:
    asked_the_app = challenge(created_at=NOW, last_sent_at=NOW, message_id=None)
    assert rules.resend_refusal(asked_the_app, now=NOW, settings=SETTINGS) is None


def test_resend_stops_at_the_cap_until_the_challenge_expires() -> None:
    spent = challenge(resends=SETTINGS.login_otp_max_resends)
    refusal = rules.resend_refusal(spent, now=NOW, settings=SETTINGS)
    assert isinstance(refusal, ResendLimitReached)
    assert refusal.headers["Retry-After"] == "300"


def test_a_dead_challenge_is_refused_before_the_resend_rules() -> None:
    dead = challenge(attempts=5, resends=SETTINGS.login_otp_max_resends)
    assert isinstance(rules.resend_refusal(dead, now=NOW, settings=SETTINGS), ChallengeExhausted)


def test_sms_needs_a_phone_number() -> None:
    assert isinstance(rules.channel_refusal(Account(phone=None), "sms"), ChannelUnavailable)
    assert rules.channel_refusal(Account(phone="+48601234789"), "sms") is None
    assert rules.channel_refusal(Account(phone=None), "email") is None
    assert rules.channel_refusal(Account(phone=None), None) is None


@pytest.mark.parametrize(
    ("status", "delivery"),
    [
        (None, "queued"),
        (MessageStatus("queued", 0, None), "queued"),
        (MessageStatus("sent", 1, None), "sent"),
        (MessageStatus("queued", 1, "http_503"), "failed"),
        (MessageStatus("abandoned", 8, "http_503"), "failed"),
        (MessageStatus("cancelled", 0, None), "failed"),
    ],
)
def test_delivery_state_offers_the_other_channel_after_the_first_failure(
    status: MessageStatus | None, delivery: str
) -> None:
    assert rules.delivery_state(status) == delivery
