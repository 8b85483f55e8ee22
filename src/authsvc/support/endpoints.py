"""HTTP for support checks: the tools verify a code; the customer reads who checked."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from authsvc.sessions.dependencies import SESSION_REFUSALS, CurrentSession
from authsvc.support import repository, service
from authsvc.support.dependencies import SUPPORT_REFUSALS, SupportKeyToken
from authsvc.support.schemas import (
    HistoryEntryOut,
    SupportVerifyOut,
    SupportVerifyRequest,
    VerifiedAccount,
)
from authsvc.web.client_ip import ClientIP, request_client_ip
from authsvc.web.dependencies import Context, Session, get_context
from authsvc.web.headers import bearer_token
from authsvc.web.openapi_docs import DATABASE, JSON_BODY, PARAMETERS, problems


class _AuditedRoute(APIRoute):
    """A support tool's call refused for its body (400, 413, 415, 422) is still a call of
    its key: the key is checked and counted first (`service.refuse_body`), so a bad or
    limited key gets its own refusal, and an admitted call leaves its audit row."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def audited(request: Request) -> Response:
            try:
                return await handle(request)
            except (RequestValidationError, StarletteHTTPException):
                # Our own refusals are AppErrors; these come only from reading the body.
                ctx = await get_context(request)
                ip = request_client_ip(request)
                await service.refuse_body(ctx, token=bearer_token(request), client_ip=ip)
                raise

        return audited


router = APIRouter(tags=["support"], route_class=_AuditedRoute)
# The customer's side of the audit, beside the customer's other authorization-code routes.
history_router = APIRouter(prefix="/auth-codes", tags=["authorization codes"])

HISTORY_MAX = 100


@router.post(
    "/auth-codes/verify",
    operation_id="verifyAuthCode",
    summary="Check a customer's authorization code (support tools, with an API key)",
    description="Answers 200 whether or not the code is valid; every call is audited "
    "and shows in the customer's history.",
    response_model_exclude_none=True,
    responses=problems(*SUPPORT_REFUSALS, *JSON_BODY, *DATABASE),
)
async def verify(
    body: SupportVerifyRequest,
    token: SupportKeyToken,
    ctx: Context,
    ip: ClientIP,
) -> SupportVerifyOut:
    verdict = await service.verify(
        ctx,
        token=token,
        customer=body.customer,
        code=body.code,
        purpose=body.purpose,
        client_ip=ip,
    )
    if not verdict.valid or verdict.account is None:
        return SupportVerifyOut(valid=False, reason=verdict.reason)
    return SupportVerifyOut(
        valid=True,
        account=VerifiedAccount(id=verdict.account.id, login=verdict.account.login),
        expires_at=verdict.expires_at,
    )


@history_router.get(
    "/history",
    operation_id="listAuthCodeHistory",
    summary="Every time a support tool checked a code of this customer, newest first",
    responses=problems(*SESSION_REFUSALS, *PARAMETERS, *DATABASE),
)
async def history(
    me: CurrentSession,
    session: Session,
    limit: Annotated[int, Query(ge=1, le=HISTORY_MAX)] = HISTORY_MAX,
) -> list[HistoryEntryOut]:
    entries = await repository.history(session, me.account.id, limit=limit)
    return [
        HistoryEntryOut(
            verified_at=e.verified_at,
            result=e.result,
            purpose=e.purpose,
            support_client=e.support_client,
        )
        for e in entries
    ]
