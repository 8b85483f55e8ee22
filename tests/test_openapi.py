from __future__ import annotations

from pathlib import Path

import yaml

from authsvc.openapi import openapi_document

COMMITTED = Path(__file__).resolve().parent.parent / "openapi.yaml"


def test_committed_openapi_yaml_matches_the_app() -> None:
    committed = yaml.safe_load(COMMITTED.read_text())
    assert committed == openapi_document(), (
        "openapi.yaml is out of date: run `python3 dev.py authsvc openapi > openapi.yaml`"
    )
