"""The login's refusal rules: pure functions of the challenge, the clock and the settings."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Literal

from authsvc.accounts.models import Account
from authsvc.config import Settings
from authsvc.core.errors import AppError
from authsvc.delivery.outbox import MessageStatus
from authsvc.factors.errors import FactorNotAllowed
from authsvc.factors.rules import CODE_FACTORS
from authsvc.login.errors import (
    ChallengeExhausted,
    ChallengeExpired,
    ChannelUnavailable,
    ResendLimitReached,
    ResendTooSoon,
)
from authsvc.login.models import LoginChallenge

Delivery = Literal["queued", "sent", "failed"]


def unusable(challenge: LoginChallenge, *, now: datetime, max_attempts: int) -> AppError | None:
    """Why no code can be tried on this challenge any more, or None while it can."""
    if challenge.consumed_at is not None:
        return ChallengeExpired(ChallengeExpired.USED)
    if challenge.expires_at <= now:
        return ChallengeExpired()
    if challenge.attempts >= max_attempts:
        return ChallengeExhausted()
    return None


def resend_after(challenge: LoginChallenge, settings: Settings) -> datetime:
    """When another code may go out. A challenge that sent nothing yet (it asked for the
    app, and the customer kept codes as a fallback) may send its first code at once."""
    if challenge.message_id is None:
        return challenge.created_at
    return challenge.last_sent_at + settings.login_otp_resend_cooldown


def resend_refusal(
    challenge: LoginChallenge, *, now: datetime, settings: Settings
) -> AppError | None:
    """Why no new code may be sent now: the challenge is over, the resends are spent, or
    the last code went out too recently. None when one may."""
    refusal = unusable(challenge, now=now, max_attempts=settings.login_otp_max_attempts)
    if refusal is not None:
        return refusal
    if challenge.resends >= settings.login_otp_max_resends:
        return ResendLimitReached(retry_after=int((challenge.expires_at - now).total_seconds()))
    wait = resend_after(challenge, settings) - now
    if wait.total_seconds() > 0:
        return ResendTooSoon(retry_after=math.ceil(wait.total_seconds()))
    return None


def factor_refusal(challenge: LoginChallenge) -> AppError | None:
    """A challenge that accepts no e-mail or SMS code (a strong factor without the
    fallback) never sends one."""
    if not set(CODE_FACTORS) & set(challenge.factors):
        return FactorNotAllowed()
    return None


def channel_refusal(account: Account, channel: str | None) -> AppError | None:
    if channel == "sms" and not account.phone:
        return ChannelUnavailable()
    return None


def attempts_left(challenge: LoginChallenge, *, max_attempts: int) -> int:
    return max(0, max_attempts - challenge.attempts)


def delivery_state(status: MessageStatus | None) -> Delivery:
    """What the SPA needs to know: delivered, still on its way, or worth another channel.

    A message that has failed at least once and is waiting for a retry already counts
    as failed: the customer should not wait minutes for the backoff to run out.
    """
    if status is None:
        return "queued"
    if status.state == "sent":
        return "sent"
    if status.state in ("abandoned", "cancelled") or status.last_error is not None:
        return "failed"
    return "queued"
