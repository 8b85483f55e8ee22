"""`CurrentSupportCaller`: the support tool behind a request, from its Bearer API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from authsvc.support import service
from authsvc.web.client_ip import ClientIP
from authsvc.web.dependencies import Context
from authsvc.web.headers import bearer_token


async def require_support_key(
    request: Request, ctx: Context, client_ip: ClientIP
) -> service.Caller:
    return await service.admit(ctx, bearer_token(request), client_ip=client_ip)


CurrentSupportCaller = Annotated[service.Caller, Depends(require_support_key)]
