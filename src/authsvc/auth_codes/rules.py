"""Authorization-code rules: pure functions of the code's row and the settings."""

from __future__ import annotations

from typing import Literal

from authsvc.auth_codes.models import AuthCode

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


def locks_now(mismatches: int, *, max_mismatches: int) -> bool:
    """Whether this mismatch, counted already, was the last one the code may take."""
    return mismatches >= max_mismatches
