"""HTTP for the customer's authorization codes. Thin: parse, call the service, shape the answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from authsvc.auth_codes import service
from authsvc.auth_codes.schemas import (
    CurrentCodeOut,
    GenerateRequest,
    HistoryEntryOut,
    NewCodeOut,
)
from authsvc.context import Context, Session
from authsvc.core.client_ip import ClientIP
from authsvc.core.problem import problem_responses
from authsvc.sessions.dependencies import CurrentSession
from authsvc.support import repository as audit

router = APIRouter(prefix="/auth-codes", tags=["authorization codes"])

HISTORY_MAX = 100


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Re-enter the password and get a new authorization code (shown once)",
    responses=problem_responses(401, 403, 422, 429, 503),
)
async def generate(
    body: GenerateRequest, me: CurrentSession, ctx: Context, session: Session, ip: ClientIP
) -> NewCodeOut:
    new = await service.generate(
        session, ctx, account=me.account, password=body.password, client_ip=ip
    )
    return NewCodeOut(code=new.code, created_at=new.created_at, expires_at=new.expires_at)


@router.get(
    "/current",
    summary="Whether a code is live, until when, and how often support confirmed it",
    response_model_exclude_none=True,
    responses=problem_responses(401),
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
    responses=problem_responses(401, 403),
)
async def revoke(me: CurrentSession, ctx: Context, session: Session) -> Response:
    await service.revoke(session, account_id=me.account.id, now=ctx.clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/history",
    summary="Every time a support tool checked a code of this customer, newest first",
    responses=problem_responses(401, 422),
)
async def history(
    me: CurrentSession,
    session: Session,
    limit: Annotated[int, Query(ge=1, le=HISTORY_MAX)] = HISTORY_MAX,
) -> list[HistoryEntryOut]:
    entries = await audit.history(session, me.account.id, limit=limit)
    return [
        HistoryEntryOut(
            verified_at=e.verified_at,
            result=e.result,
            purpose=e.purpose,
            support_client=e.support_client,
        )
        for e in entries
    ]
