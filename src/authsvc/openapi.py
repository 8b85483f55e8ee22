"""The committed `openapi.yaml` is generated from the app: `authsvc openapi > openapi.yaml`."""

from __future__ import annotations

from typing import Any

import yaml

from authsvc.config import Settings


def openapi_document() -> dict[str, Any]:
    from authsvc.app import create_app

    return create_app(Settings(env="dev")).openapi()


def openapi_yaml() -> str:
    return yaml.safe_dump(openapi_document(), sort_keys=False, allow_unicode=True, width=100)
