"""Authorization-code rules, as pure functions of the code's row."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from authsvc.auth_codes import rules
from authsvc.auth_codes.models import AuthCode

NOW = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("latest", "reason"),
    [
        (None, "no_active_code"),
        (AuthCode(revoked_at=None, revoke_reason=None), "expired"),
        (AuthCode(revoked_at=NOW, revoke_reason="locked"), "locked"),
        (AuthCode(revoked_at=NOW, revoke_reason="revoked"), "no_active_code"),
        (AuthCode(revoked_at=NOW, revoke_reason="replaced"), "no_active_code"),
    ],
)
def test_why_there_is_no_live_code(latest: AuthCode | None, reason: str) -> None:
    assert rules.reason_without_live_code(latest) == reason
