"""The guard's settings are in the README's Configuration section."""

from __future__ import annotations

from pathlib import Path

from authsvc.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_sms_guard_setting_is_documented() -> None:
    text = README.read_text("utf-8")
    configuration = text[text.index("\n## Configuration\n") : text.index("\n### Delivery of")]
    names = [name for name in Settings.model_fields if name.startswith(("sms_budget", "sms_co"))]
    assert len(names) == 6
    for name in names:
        assert f"`AUTHSVC_{name.upper()}`" in configuration, name
