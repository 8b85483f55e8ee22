"""HTTP for the second factors. Thin: parse, call the service, shape the answer."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from authsvc.factors import service
from authsvc.factors.errors import (
    EnrollmentExpired,
    EnrollmentNotFound,
    FactorNotAllowed,
    FactorNotEnrolled,
    InvalidFactorCode,
    StrongFactorRequired,
    TotpAlreadyEnrolled,
)
from authsvc.factors.schemas import (
    ConfirmedOut,
    ConfirmTotpRequest,
    FactorsOut,
    PreferredRequest,
    RecoveryCodesSetOut,
    TotpEnrollmentOut,
)
from authsvc.sessions.dependencies import (
    REAUTH_REFUSALS,
    SESSION_REFUSALS,
    CurrentSession,
    RecentlyReauthenticated,
)
from authsvc.web.client_ip import ClientIP
from authsvc.web.dependencies import Context, Session
from authsvc.web.openapi_docs import DATABASE, JSON_BODY, PARAMETERS, problems

router = APIRouter(prefix="/factors", tags=["second factors"])


@router.get(
    "",
    operation_id="getFactors",
    summary="The account's second steps: contacts, authenticator app, recovery codes",
    responses=problems(*SESSION_REFUSALS, *DATABASE),
)
async def factors(me: CurrentSession, session: Session) -> FactorsOut:
    return FactorsOut.of(await service.overview(session, me.account))


@router.post(
    "/totp",
    status_code=status.HTTP_201_CREATED,
    operation_id="startTotpEnrollment",
    summary="Begin setting up an authenticator app (pending until a first code confirms it)",
    responses=problems(*REAUTH_REFUSALS, TotpAlreadyEnrolled, *DATABASE),
)
async def start_totp(
    me: RecentlyReauthenticated, ctx: Context, session: Session, ip: ClientIP
) -> TotpEnrollmentOut:
    new = await service.start_totp(session, ctx, me.account, ip=ip)
    return TotpEnrollmentOut(
        factor_id=new.factor_id, secret=new.secret, otpauth_uri=new.otpauth_uri,
        qr_svg=new.qr_svg, expires_at=new.expires_at,
    )  # fmt: skip


@router.post(
    "/totp/{factor_id}/confirm",
    operation_id="confirmTotpEnrollment",
    summary="Activate the authenticator app with its first code",
    response_model_exclude_none=True,
    responses=problems(
        *REAUTH_REFUSALS,
        InvalidFactorCode,
        EnrollmentNotFound,
        TotpAlreadyEnrolled,
        EnrollmentExpired,
        *JSON_BODY,
        *PARAMETERS,
        *DATABASE,
    ),
)
async def confirm_totp(
    factor_id: uuid.UUID,
    body: ConfirmTotpRequest,
    me: RecentlyReauthenticated,
    ctx: Context,
    session: Session,
    ip: ClientIP,
) -> ConfirmedOut:
    codes = await service.confirm_totp(
        session, ctx, me.account, factor_id=factor_id, code=body.code, ip=ip
    )
    return ConfirmedOut(recovery_codes=codes)


@router.delete(
    "/totp",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="removeTotp",
    summary="Remove the authenticator app",
    responses=problems(*REAUTH_REFUSALS, FactorNotEnrolled, *DATABASE),
)
async def remove_totp(
    me: RecentlyReauthenticated, ctx: Context, session: Session, ip: ClientIP
) -> Response:
    await service.remove_totp(session, ctx, me.account, ip=ip)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/recovery-codes",
    status_code=status.HTTP_201_CREATED,
    operation_id="createRecoveryCodes",
    summary="A new set of 10 recovery codes, shown once; the old set stops working",
    responses=problems(*REAUTH_REFUSALS, StrongFactorRequired, *DATABASE),
)
async def new_recovery_codes(
    me: RecentlyReauthenticated, ctx: Context, session: Session, ip: ClientIP
) -> RecoveryCodesSetOut:
    codes = await service.new_recovery_codes(session, ctx, me.account, ip=ip)
    return RecoveryCodesSetOut(recovery_codes=codes)


@router.put(
    "/preferred",
    operation_id="setPreferredFactor",
    summary="Choose the second step asked for first, and whether codes stay a fallback",
    responses=problems(
        *REAUTH_REFUSALS, FactorNotEnrolled, FactorNotAllowed, *JSON_BODY, *DATABASE
    ),
)
async def choose_preferred(
    body: PreferredRequest,
    me: RecentlyReauthenticated,
    ctx: Context,
    session: Session,
    ip: ClientIP,
) -> FactorsOut:
    account = await service.choose_preferred(
        session, ctx, me.account, factor=body.factor, codes_fallback=body.codes_fallback, ip=ip
    )
    return FactorsOut.of(await service.overview(session, account))
