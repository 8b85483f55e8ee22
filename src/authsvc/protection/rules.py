"""The password reset's refusal rules: pure functions of the reset, the clock and the
settings. The numbers are the login code's: 5 attempts, 3 resends 30 s apart."""

from __future__ import annotations

import math
from datetime import datetime

from authsvc.config import Settings
from authsvc.core.errors import AppError
from authsvc.protection.errors import ResetExpired, ResetResendLimitReached, ResetResendTooSoon
from authsvc.protection.models import PasswordReset


def unusable(reset: PasswordReset, *, now: datetime, settings: Settings) -> AppError | None:
    """Why no code can be tried on this reset any more, or None while it can."""
    if reset.consumed_at is not None:
        return ResetExpired.used()
    if reset.expires_at <= now:
        return ResetExpired(reason="expired")
    if reset.attempts >= settings.password_reset_max_attempts:
        return ResetExpired.exhausted()
    return None


def resend_after(reset: PasswordReset, settings: Settings) -> datetime:
    return reset.last_sent_at + settings.login_otp_resend_cooldown


def resend_refusal(reset: PasswordReset, *, now: datetime, settings: Settings) -> AppError | None:
    refusal = unusable(reset, now=now, settings=settings)
    if refusal is not None:
        return refusal
    if reset.resends >= settings.login_otp_max_resends:
        wait = (reset.expires_at - now).total_seconds()
        return ResetResendLimitReached(retry_after=math.ceil(wait))
    wait = (resend_after(reset, settings) - now).total_seconds()
    if wait > 0:
        return ResetResendTooSoon(retry_after=math.ceil(wait))
    return None
