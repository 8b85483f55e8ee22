"""HTTP for support checks: the tools verify a code; the customer reads who checked."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from authsvc.sessions.dependencies import CurrentSession
from authsvc.support import repository, service
from authsvc.support.dependencies import CurrentSupportCaller
from authsvc.support.schemas import HistoryEntryOut, VerifiedAccount, VerifyOut, VerifyRequest
from authsvc.web.client_ip import ClientIP
from authsvc.web.dependencies import Context, Session
from authsvc.web.problem import problem_responses

router = APIRouter(tags=["support"])
# The customer's side of the audit, beside the customer's other authorization-code routes.
history_router = APIRouter(prefix="/auth-codes", tags=["authorization codes"])

HISTORY_MAX = 100


@router.post(
    "/auth-codes/verify",
    summary="Check a customer's authorization code (support tools, with an API key)",
    description="Answers 200 whether or not the code is valid; every call is audited "
    "and shows in the customer's history.",
    response_model_exclude_none=True,
    responses=problem_responses(400, 401, 403, 413, 422, 429, 503),
)
async def verify(
    body: VerifyRequest,
    caller: CurrentSupportCaller,
    ctx: Context,
    session: Session,
    ip: ClientIP,
) -> VerifyOut:
    verdict = await service.verify(
        session,
        ctx,
        caller=caller,
        customer=body.customer,
        code=body.code,
        purpose=body.purpose,
        client_ip=ip,
    )
    if not verdict.valid or verdict.account is None:
        return VerifyOut(valid=False, reason=verdict.reason)
    return VerifyOut(
        valid=True,
        account=VerifiedAccount(id=verdict.account.id, login=verdict.account.login),
        expires_at=verdict.expires_at,
    )


@history_router.get(
    "/history",
    summary="Every time a support tool checked a code of this customer, newest first",
    responses=problem_responses(401, 422, 503),
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
