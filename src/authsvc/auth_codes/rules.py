"""Authorization-code rules: pure functions of the code's row and the settings."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from authsvc.auth_codes.models import AuthCode
from authsvc.config import Settings
from authsvc.throttling.rules import over_rate_for

Reason = Literal["mismatch", "expired", "no_active_code", "locked"]


def reason_without_live_code(latest: AuthCode | None) -> Reason:
    """Why a customer has no live code, judged by their latest one (None: never had one)."""
    if latest is None:
        return "no_active_code"
    if latest.revoke_reason == "locked":
        return "locked"
    if latest.revoked_at is None:
        return "expired"  # not revoked, yet not live: its hour is over
    return "no_active_code"  # revoked by the customer, or replaced


def generation_wait(
    generated: int, first: datetime | None, *, settings: Settings, now: datetime
) -> int | None:
    """Seconds until one more code may be generated, when the account has generated
    `auth_code_generation_limit` codes in the window (the first at `first`); else None."""
    if first is None:
        return None
    window = settings.auth_code_generation_window
    limit = settings.auth_code_generation_limit
    return over_rate_for(generated + 1, first, limit=limit, window=window, now=now)
