"""HTTP for the customer's authorization codes. Thin: parse, call the service, shape the answer."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from authsvc.auth_codes import service
from authsvc.auth_codes.schemas import (
    CurrentCodeOut,
    GenerateRequest,
    NewCodeOut,
)
from authsvc.core.errors import Overloaded
from authsvc.login.endpoints import client_of
from authsvc.login.errors import InvalidCredentials
from authsvc.sessions.dependencies import (
    SESSION_REFUSALS,
    SESSION_REFUSALS_UNSAFE,
    CurrentSession,
)
from authsvc.throttling.errors import TooManyAttempts
from authsvc.web.client_ip import ClientIP
from authsvc.web.dependencies import Context, Session
from authsvc.web.openapi_docs import DATABASE, JSON_BODY, problems

router = APIRouter(prefix="/auth-codes", tags=["authorization codes"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="createAuthCode",
    summary="Re-enter the password and get a new authorization code (shown once)",
    responses=problems(
        *SESSION_REFUSALS_UNSAFE,
        InvalidCredentials,
        TooManyAttempts,
        Overloaded,
        *JSON_BODY,
        *DATABASE,
    ),
)
async def generate(
    body: GenerateRequest,
    me: CurrentSession,
    request: Request,
    ctx: Context,
    session: Session,
    ip: ClientIP,
) -> NewCodeOut:
    new = await service.generate(
        session, ctx, account=me.account, password=body.password, client=client_of(request, ip, ctx)
    )
    return NewCodeOut(code=new.code, created_at=new.created_at, expires_at=new.expires_at)


@router.get(
    "/current",
    operation_id="getCurrentAuthCode",
    summary="Whether a code is live, until when, and how often support confirmed it",
    response_model_exclude_none=True,
    responses=problems(*SESSION_REFUSALS, *DATABASE),
)
async def current(me: CurrentSession, ctx: Context, session: Session) -> CurrentCodeOut:
    code = await service.current(session, account_id=me.account.id, now=ctx.clock.now())
    if code is None:
        return CurrentCodeOut(active=False)
    return CurrentCodeOut(
        active=True,
        created_at=code.created_at,
        expires_at=code.expires_at,
        verifications=code.verifications,
    )


@router.delete(
    "/current",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="revokeAuthCode",
    summary="Revoke the live code now",
    responses=problems(*SESSION_REFUSALS_UNSAFE, *DATABASE),
)
async def revoke(me: CurrentSession, ctx: Context, session: Session, ip: ClientIP) -> Response:
    await service.revoke(session, account_id=me.account.id, now=ctx.clock.now(), client_ip=ip)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
