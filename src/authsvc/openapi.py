"""The committed `openapi.yaml` is generated from the app: `authsvc openapi > openapi.yaml`."""

from __future__ import annotations

from typing import Any

import yaml

from authsvc.config import Settings


def openapi_document() -> dict[str, Any]:
    from authsvc.app import create_app

    # The defaults, whatever the environment says: the committed document names the
    # development server at its default address.
    settings = Settings(env="dev", host="127.0.0.1", port=8000, public_url=None)
    return create_app(settings).openapi()


class _Dumper(yaml.SafeDumper):
    """Multi-line text (descriptions with lists) as literal blocks, as it was written."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def openapi_yaml() -> str:
    return yaml.dump(
        openapi_document(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )
