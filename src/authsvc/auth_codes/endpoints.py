"""HTTP for the customer's authorization codes. Thin: parse, call the service, shape the answer."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from authsvc.auth_codes import service
from authsvc.auth_codes.schemas import (
    CurrentCodeOut,
    GenerateRequest,
    NewCodeOut,
)
from authsvc.login.endpoints import client_of
from authsvc.sessions.dependencies import CurrentSession
from authsvc.web.client_ip import ClientIP
from authsvc.web.dependencies import Context, Session
from authsvc.web.problem import problem_responses

router = APIRouter(prefix="/auth-codes", tags=["authorization codes"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Re-enter the password and get a new authorization code (shown once)",
    responses=problem_responses(400, 401, 403, 413, 422, 429, 503),
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
    summary="Whether a code is live, until when, and how often support confirmed it",
    response_model_exclude_none=True,
    responses=problem_responses(401, 503),
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
    summary="Revoke the live code now",
    responses=problem_responses(401, 403, 503),
)
async def revoke(me: CurrentSession, ctx: Context, session: Session) -> Response:
    await service.revoke(session, account_id=me.account.id, now=ctx.clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
