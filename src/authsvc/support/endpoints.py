"""HTTP for support tools: verify the code a customer read out."""

from __future__ import annotations

from fastapi import APIRouter

from authsvc.context import Context, Session
from authsvc.core.client_ip import ClientIP
from authsvc.core.problem import problem_responses
from authsvc.support import service
from authsvc.support.dependencies import CurrentSupportCaller
from authsvc.support.schemas import VerifiedAccount, VerifyOut, VerifyRequest

router = APIRouter(tags=["support"])


@router.post(
    "/auth-codes/verify",
    summary="Check a customer's authorization code (support tools, with an API key)",
    description="Answers 200 whether or not the code is valid; every call is audited "
    "and shows in the customer's history.",
    response_model_exclude_none=True,
    responses=problem_responses(401, 403, 422, 429),
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
