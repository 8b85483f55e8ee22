"""The guard's settings are in the configuration reference."""

from __future__ import annotations

from pathlib import Path

from authsvc.config import Settings

CONFIGURATION = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_sms_guard_setting_is_documented() -> None:
    configuration = CONFIGURATION.read_text("utf-8")
    names = [name for name in Settings.model_fields if name.startswith(("sms_budget", "sms_co"))]
    assert len(names) == 6
    for name in names:
        assert f"`AUTHSVC_{name.upper()}`" in configuration, name
