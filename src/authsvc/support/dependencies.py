"""`CurrentSupportCaller`: the support tool behind a request, from its Bearer API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from authsvc.support import service
from authsvc.support.errors import InsufficientScope, InvalidApiKey
from authsvc.support.keys import KEY_PREFIX
from authsvc.throttling.errors import TooManyAttempts
from authsvc.web.client_ip import ClientIP
from authsvc.web.dependencies import Context
from authsvc.web.headers import bearer_token

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


async def require_support_key(
    request: Request,
    ctx: Context,
    client_ip: ClientIP,
    # For the document only: service.admit reads and checks the key.
    _key: Annotated[HTTPAuthorizationCredentials | None, Security(_API_KEY)],
) -> service.Caller:
    return await service.admit(ctx, bearer_token(request), client_ip=client_ip)


CurrentSupportCaller = Annotated[service.Caller, Depends(require_support_key)]
