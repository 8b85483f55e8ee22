"""HTTP for password change and reset. Thin: parse, call the service, shape the answer."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from authsvc.accounts.errors import WeakPassword
from authsvc.core.errors import Overloaded
from authsvc.login.endpoints import client_of
from authsvc.login.errors import InvalidCode, InvalidCredentials
from authsvc.protection import service
from authsvc.protection.errors import (
    ResetExpired,
    ResetNotFound,
    ResetResendLimitReached,
    ResetResendTooSoon,
)
from authsvc.protection.schemas import (
    ChangePasswordRequest,
    ResetConfirmRequest,
    ResetOut,
    ResetRequest,
    ResetResendRequest,
)
from authsvc.sessions.dependencies import SESSION_REFUSALS_UNSAFE, CurrentSession
from authsvc.throttling.errors import TooManyAttempts
from authsvc.web.client_ip import ClientIP
from authsvc.web.dependencies import Context, Session
from authsvc.web.openapi_docs import DATABASE, JSON_BODY, PUBLIC, problems

router = APIRouter(tags=["password"])


def _reset_out(view: service.ResetView) -> ResetOut:
    return ResetOut(
        reset_id=view.reset_id, expires_at=view.expires_at, resend_after=view.resend_after
    )


@router.post(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="changePassword",
    summary="Change the password (the current one again, and a new one); ends other sessions",
    responses=problems(
        *SESSION_REFUSALS_UNSAFE,
        InvalidCredentials,
        WeakPassword,
        TooManyAttempts,
        Overloaded,
        *JSON_BODY,
        *DATABASE,
    ),
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
    operation_id="requestPasswordReset",
    summary="Send a reset code by the account's channel (the same answer for any login)",
    openapi_extra=PUBLIC,
    responses=problems(TooManyAttempts, *JSON_BODY, *DATABASE),
)
async def request_reset(
    body: ResetRequest, request: Request, ctx: Context, ip: ClientIP
) -> ResetOut:
    view = await service.request_reset(ctx, login=body.login, client=client_of(request, ip, ctx))
    return _reset_out(view)


@router.post(
    "/password/reset/resend",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="resendPasswordResetCode",
    summary="Send a new reset code; the old one stops working",
    openapi_extra=PUBLIC,
    responses=problems(
        ResetNotFound,
        ResetExpired,
        ResetResendTooSoon,
        ResetResendLimitReached,
        *JSON_BODY,
        *DATABASE,
    ),
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
    operation_id="confirmPasswordReset",
    summary="Set the new password with the reset code; ends every session, signs nobody in",
    openapi_extra=PUBLIC,
    responses=problems(
        InvalidCode,
        ResetNotFound,
        ResetExpired,
        WeakPassword,
        Overloaded,
        *JSON_BODY,
        *DATABASE,
    ),
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
