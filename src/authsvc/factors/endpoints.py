"""HTTP for the second factors. Thin: parse, call the service, shape the answer."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from authsvc.core.errors import NotFound
from authsvc.factors import service
from authsvc.factors.errors import (
    EnrollmentExpired,
    EnrollmentNotFound,
    FactorNotAllowed,
    FactorNotEnrolled,
    InvalidFactorCode,
    InvalidPasskey,
    PasskeyChallengeExpired,
    PasskeyLimitReached,
    PasskeyNotFound,
    StrongFactorRequired,
    TotpAlreadyEnrolled,
)
from authsvc.factors.schemas import (
    AddPasskeyRequest,
    ConfirmedOut,
    ConfirmTotpRequest,
    FactorsOut,
    PasskeyAddedOut,
    PasskeyCreationOptionsOut,
    PasskeyOut,
    PreferredRequest,
    RecoveryCodesSetOut,
    RenamePasskeyRequest,
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
    summary="The account's second steps: contacts, authenticator app, passkeys, recovery codes",
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
    "/passkeys/options",
    operation_id="passkeyRegistrationOptions",
    summary="Options for navigator.credentials.create(): a new discoverable passkey",
    responses=problems(*REAUTH_REFUSALS, PasskeyLimitReached, *DATABASE),
)
async def passkey_options(
    me: RecentlyReauthenticated, ctx: Context, session: Session
) -> PasskeyCreationOptionsOut:
    options = await service.passkey_registration_options(
        session, ctx, me.account, session_id=me.session.id
    )
    return PasskeyCreationOptionsOut(options=options)


@router.post(
    "/passkeys",
    status_code=status.HTTP_201_CREATED,
    operation_id="addPasskey",
    summary="Register the passkey the browser created with the options; notice e-mail",
    response_model_exclude_none=True,
    responses=problems(
        *REAUTH_REFUSALS,
        InvalidPasskey,
        PasskeyChallengeExpired,
        PasskeyLimitReached,
        *JSON_BODY,
        *DATABASE,
    ),
)
async def add_passkey(
    body: AddPasskeyRequest,
    me: RecentlyReauthenticated,
    ctx: Context,
    session: Session,
    ip: ClientIP,
) -> PasskeyAddedOut:
    added = await service.add_passkey(
        session, ctx, me.account, session_id=me.session.id, name=body.name,
        credential=body.credential, ip=ip,
    )  # fmt: skip
    passkey = added.passkey
    return PasskeyAddedOut(
        id=passkey.id, name=passkey.name, created_at=passkey.created_at,
        backed_up=passkey.backed_up, recovery_codes=added.recovery_codes,
    )  # fmt: skip


# Only a UUID matches (the router's `404 not_found` otherwise), so `/passkeys/options`
# is never taken for a passkey's path.
@router.patch(
    "/passkeys/{passkey_id:uuid}",
    operation_id="renamePasskey",
    summary="Rename a passkey",
    responses=problems(
        *REAUTH_REFUSALS, PasskeyNotFound, NotFound, *JSON_BODY, *PARAMETERS, *DATABASE
    ),
)
async def rename_passkey(
    passkey_id: uuid.UUID, body: RenamePasskeyRequest, me: RecentlyReauthenticated,
    session: Session,
) -> PasskeyOut:  # fmt: skip
    p = await service.rename_passkey(session, me.account, passkey_id=passkey_id, name=body.name)
    return PasskeyOut(
        id=p.id, name=p.name, created_at=p.created_at, last_used_at=p.last_used_at,
        backed_up=p.backed_up,
    )  # fmt: skip


@router.delete(
    "/passkeys/{passkey_id:uuid}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="removePasskey",
    summary="Remove a passkey: it no longer signs in; notice e-mail",
    responses=problems(*REAUTH_REFUSALS, PasskeyNotFound, NotFound, *PARAMETERS, *DATABASE),
)
async def remove_passkey(
    passkey_id: uuid.UUID, me: RecentlyReauthenticated, ctx: Context, session: Session,
    ip: ClientIP,
) -> Response:  # fmt: skip
    await service.remove_passkey(session, ctx, me.account, passkey_id=passkey_id, ip=ip)
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
