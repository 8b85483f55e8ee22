"""HTTP for password change and reset. Thin: parse, call the service, shape the answer."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from authsvc.login.endpoints import client_of
from authsvc.protection import service
from authsvc.protection.schemas import (
    ChangePasswordRequest,
    ResetConfirmRequest,
    ResetOut,
    ResetRequest,
    ResetResendRequest,
)
from authsvc.sessions.dependencies import CurrentSession
from authsvc.web.client_ip import ClientIP
from authsvc.web.dependencies import Context, Session
from authsvc.web.problem import problem_responses

router = APIRouter(tags=["password"])


def _reset_out(view: service.ResetView) -> ResetOut:
    return ResetOut(
        reset_id=view.reset_id, expires_at=view.expires_at, resend_after=view.resend_after
    )


@router.post(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Change the password (the current one again, and a new one); ends other sessions",
    responses=problem_responses(400, 401, 403, 413, 422, 429, 503),
)
async def change_password(
    body: ChangePasswordRequest,
    me: CurrentSession,
    request: Request,
    ctx: Context,
    session: Session,
    ip: ClientIP,
) -> Response:
    await service.change_password(
        session,
        ctx,
        account=me.account,
        current=me.session,
        password=body.password,
        new_password=body.new_password,
        client=client_of(request, ip, ctx),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/password/reset",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a reset code by the account's channel (the same answer for any login)",
    responses=problem_responses(400, 413, 422, 429, 503),
)
async def request_reset(
    body: ResetRequest, request: Request, ctx: Context, ip: ClientIP
) -> ResetOut:
    view = await service.request_reset(ctx, login=body.login, client=client_of(request, ip, ctx))
    return _reset_out(view)


@router.post(
    "/password/reset/resend",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a new reset code; the old one stops working",
    responses=problem_responses(400, 404, 410, 413, 422, 429, 503),
)
async def resend_reset_code(
    body: ResetResendRequest, request: Request, ctx: Context, session: Session, ip: ClientIP
) -> ResetOut:
    view = await service.resend_reset_code(
        session, ctx, reset_id=body.reset_id, client=client_of(request, ip, ctx)
    )
    return _reset_out(view)


@router.post(
    "/password/reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Set the new password with the reset code; ends every session, signs nobody in",
    responses=problem_responses(400, 401, 404, 410, 413, 422, 503),
)
async def confirm_reset(
    body: ResetConfirmRequest, request: Request, ctx: Context, session: Session, ip: ClientIP
) -> Response:
    await service.confirm_reset(
        session,
        ctx,
        reset_id=body.reset_id,
        code=body.code,
        new_password=body.new_password,
        client=client_of(request, ip, ctx),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
