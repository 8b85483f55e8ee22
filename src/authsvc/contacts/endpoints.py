"""HTTP for contact changes. Thin: parse, call the service, shape the answer."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from authsvc.accounts.errors import InvalidEmail, InvalidPhone
from authsvc.contacts import service
from authsvc.contacts.errors import ChangeExpired, ChangeNotFound, InvalidChangeCode, SmsLimited
from authsvc.contacts.schemas import (
    ChangeOut,
    ConfirmChangeRequest,
    EmailChangeRequest,
    PhoneChangeRequest,
)
from authsvc.core.errors import AppError
from authsvc.sessions.dependencies import (
    REAUTH_REFUSALS,
    SESSION_REFUSALS_UNSAFE,
    CurrentSession,
    RecentlyReauthenticated,
)
from authsvc.throttling.errors import TooManyAttempts
from authsvc.web.client_ip import ClientIP
from authsvc.web.dependencies import Context, Session
from authsvc.web.openapi_docs import DATABASE, JSON_BODY, problems

router = APIRouter(prefix="/account", tags=["contact data"])

CONFIRM_REFUSALS: tuple[type[AppError], ...] = (
    *SESSION_REFUSALS_UNSAFE, InvalidChangeCode, ChangeNotFound, ChangeExpired, *JSON_BODY,
    *DATABASE,
)  # fmt: skip


@router.post(
    "/email",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="changeEmail",
    summary="Send a code to a new e-mail address; it replaces the old one once confirmed",
    responses=problems(*REAUTH_REFUSALS, InvalidEmail, TooManyAttempts, *JSON_BODY, *DATABASE),
)
async def change_email(
    body: EmailChangeRequest,
    me: RecentlyReauthenticated,
    ctx: Context,
    session: Session,
    ip: ClientIP,
) -> ChangeOut:
    pending = await service.request_email(session, ctx, me.account, email=body.email, ip=ip)
    return ChangeOut(change_id=pending.change_id, expires_at=pending.expires_at)


@router.post(
    "/phone",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="changePhone",
    summary="Text a code to a new mobile number; it replaces the old one once confirmed",
    responses=problems(
        *REAUTH_REFUSALS, InvalidPhone, TooManyAttempts, SmsLimited, *JSON_BODY, *DATABASE
    ),
)
async def change_phone(
    body: PhoneChangeRequest,
    me: RecentlyReauthenticated,
    ctx: Context,
    session: Session,
    ip: ClientIP,
) -> ChangeOut:
    pending = await service.request_phone(session, ctx, me.account, phone=body.phone, ip=ip)
    return ChangeOut(change_id=pending.change_id, expires_at=pending.expires_at)


@router.post(
    "/email/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="confirmEmailChange",
    summary="Confirm the new e-mail address with the code sent to it",
    responses=problems(*CONFIRM_REFUSALS),
)
async def confirm_email(
    body: ConfirmChangeRequest, me: CurrentSession, ctx: Context, session: Session, ip: ClientIP
) -> Response:
    await service.confirm(session, ctx, me.account, kind="email", change_id=body.change_id,
                          code=body.code, ip=ip)  # fmt: skip
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/phone/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="confirmPhoneChange",
    summary="Confirm the new phone number with the code texted to it",
    responses=problems(*CONFIRM_REFUSALS),
)
async def confirm_phone(
    body: ConfirmChangeRequest, me: CurrentSession, ctx: Context, session: Session, ip: ClientIP
) -> Response:
    await service.confirm(session, ctx, me.account, kind="phone", change_id=body.change_id,
                          code=body.code, ip=ip)  # fmt: skip
    return Response(status_code=status.HTTP_204_NO_CONTENT)
