"""The support tools' API key: its security scheme, and a first look at it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from authsvc.support import service
from authsvc.support.errors import InsufficientScope, InvalidApiKey
from authsvc.support.keys import KEY_PREFIX
from authsvc.throttling.errors import TooManyAttempts
from authsvc.web.client_ip import ClientIP
from authsvc.web.headers import bearer_token
from authsvc.web.openapi_docs import signs_in_with

# The security scheme of openapi.yaml for support tools.
_API_KEY = HTTPBearer(
    scheme_name="supportApiKey",
    bearerFormat=f"{KEY_PREFIX}…",
    description=f"A support API key (`{KEY_PREFIX}…`, from `authsvc support-keys create`) as "
    "`Authorization: Bearer <key>`; it needs the `auth-codes:verify` scope.",
    auto_error=False,
)
# What a support tool's call may be refused with: its key, the key's scope, its rate.
SUPPORT_REFUSALS = (InvalidApiKey, InsufficientScope, TooManyAttempts)


@signs_in_with(_API_KEY)  # the key is read below
async def support_key_token(request: Request, client_ip: ClientIP) -> str:
    """The presented key, refused at once (before the body) when it cannot be one. Whether
    it is a live key, service.verify finds out in the statement that also counts the
    call and finds the customer: one round trip where a lookup here would cost two."""
    return service.well_formed_key(bearer_token(request), client_ip=client_ip)


SupportKeyToken = Annotated[str, Depends(support_key_token)]
