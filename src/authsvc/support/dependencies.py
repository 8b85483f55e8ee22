"""The support tools' API key, as openapi.yaml declares it (service.verify checks it)."""

from __future__ import annotations

from fastapi.security import HTTPBearer

from authsvc.support.errors import InsufficientScope, InvalidApiKey
from authsvc.support.keys import KEY_PREFIX
from authsvc.throttling.errors import TooManyAttempts

# The security scheme of openapi.yaml for support tools. The key is checked by
# service.verify in the statement that also counts the call and finds the customer,
# one round trip where a dependency of its own would cost two more.
SUPPORT_API_KEY = HTTPBearer(
    scheme_name="supportApiKey",
    bearerFormat=f"{KEY_PREFIX}…",
    description=f"A support API key (`{KEY_PREFIX}…`, from `authsvc support-keys create`) as "
    "`Authorization: Bearer <key>`; it needs the `auth-codes:verify` scope.",
    auto_error=False,
)
# What a support tool's call may be refused with: its key, the key's scope, its rate.
SUPPORT_REFUSALS = (InvalidApiKey, InsufficientScope, TooManyAttempts)
