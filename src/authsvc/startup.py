"""The settings a command or the app starts with: read, completed and checked as a whole.

Kept apart from `config` so that the settings module depends on nothing of ours, while
the delivery package, which knows its providers, checks its own variables.
"""

from __future__ import annotations

from authsvc.config import Settings, load_settings
from authsvc.delivery.adapters import check_delivery_settings
from authsvc.factors.passkeys import warn_unusable_origins


def startup_settings() -> Settings:
    """`load_settings()` plus the delivery checks; raises ConfigError naming the variable."""
    settings = load_settings()
    check_delivery_settings(settings)
    warn_unusable_origins(settings)  # those origins still serve CORS; only passkeys fail
    return settings
