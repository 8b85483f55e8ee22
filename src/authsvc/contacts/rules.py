"""The contact change's refusal rules: pure functions of the change, the clock and the
settings. The numbers are the login code's: valid 10 minutes, 5 attempts."""

from __future__ import annotations

import math
from datetime import datetime

from authsvc.config import Settings
from authsvc.contacts.errors import ChangeExpired
from authsvc.contacts.models import ContactChange
from authsvc.core.errors import AppError
from authsvc.sms_guard import rules as sms_rules

PURPOSE = "contact-change"  # binds a code's HMAC to this use (and to the change's id)


def unusable(change: ContactChange, *, now: datetime, settings: Settings) -> AppError | None:
    """Why no code can be tried on this change any more, or None while it can."""
    if change.consumed_at is not None:
        return ChangeExpired.used()
    if change.expires_at <= now:
        return ChangeExpired(reason="expired")
    if change.attempts >= settings.login_otp_max_attempts:
        return ChangeExpired.exhausted()
    return None


def same_address(kind: str, current: str | None, new: str) -> bool:
    """Whether `new` is what the account has already (e-mail compared without case:
    the domain part is case-insensitive, and nobody wants two mailboxes by case)."""
    if current is None:
        return False
    return current.lower() == new.lower() if kind == "email" else current == new


def sms_retry_after(now: datetime) -> int:
    """Seconds until the SMS budgets' hour ends: when a spent budget has room again."""
    return math.ceil((sms_rules.hour_of(now) + sms_rules.HOUR - now).total_seconds())
