"""HTTP for the two-step login. Thin: parse, call the service, shape the answer."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from authsvc.context import ServiceContext
from authsvc.core.errors import Overloaded
from authsvc.factors import service as factors
from authsvc.factors.errors import (
    FactorNotAllowed,
    FactorNotEnrolled,
    PasskeyChallengeExpired,
    PasskeyCounterRegressed,
    PasskeyNotAccepted,
    PasskeySignInDisabled,
)
from authsvc.login import service
from authsvc.login.errors import (
    ChallengeExhausted,
    ChallengeExpired,
    ChallengeNotFound,
    ChannelUnavailable,
    InvalidCode,
    InvalidCredentials,
    PasswordResetRequired,
    ResendLimitReached,
    ResendTooSoon,
)
from authsvc.login.schemas import (
    ChallengeOut,
    ChallengeStatusOut,
    LoginRequest,
    PasskeyFlowOut,
    PasskeyRequestOptionsOut,
    PasskeySignInRequest,
    ReauthenticatedOut,
    ReauthenticateRequest,
    ResendRequest,
    VerifyRequest,
)
from authsvc.sessions.dependencies import SESSION_REFUSALS_UNSAFE, CurrentSession
from authsvc.sessions.schemas import SignedInOut
from authsvc.throttling.errors import TooManyAttempts
from authsvc.web.client_ip import ClientIP
from authsvc.web.cookies import read_device_cookie, set_device_cookie, set_session_cookie
from authsvc.web.dependencies import Context, Session
from authsvc.web.openapi_docs import DATABASE, JSON_BODY, PARAMETERS, PUBLIC, problems
from authsvc.web.openapi_docs import session_cookie_header as cookie_header

router = APIRouter(tags=["login"])


def client_of(request: Request, ip: str, ctx: ServiceContext) -> service.Client:
    return service.Client(
        ip=ip,
        user_agent=request.headers.get("user-agent", ""),
        device_cookie=read_device_cookie(request, ctx.settings),
    )


def _challenge_out(view: service.ChallengeView) -> ChallengeOut:
    return ChallengeOut(
        challenge_id=view.challenge_id,
        factor=view.factor,
        factors=view.factors,
        channel=view.channel,
        destination=view.destination,
        expires_at=view.expires_at,
        resend_after=view.resend_after,
        sms_unavailable=view.sms_unavailable,
        passkey_options=view.answer.get("passkey_options"),
    )


@router.post(
    "/login",
    operation_id="startLogin",
    summary="Check login and password; begin the second step (a code is sent, or the app "
    "or a passkey asked)",
    openapi_extra=PUBLIC,
    response_model_exclude_none=True,
    responses=problems(
        InvalidCredentials,
        PasswordResetRequired,
        TooManyAttempts,
        Overloaded,
        *JSON_BODY,
        *DATABASE,
    ),
)
async def login(body: LoginRequest, request: Request, ctx: Context, ip: ClientIP) -> ChallengeOut:
    # No request session: start_login runs its own short statements around the hash.
    view = await service.start_login(
        ctx, login=body.login, password=body.password, client=client_of(request, ip, ctx)
    )
    return _challenge_out(view)


@router.post(
    "/login/verify",
    operation_id="verifyLoginCode",
    summary="Finish the login with a code (e-mail, SMS, app), a recovery code or a passkey; "
    "starts a session",
    openapi_extra=PUBLIC,
    responses={
        200: {
            "description": "Signed in",
            "headers": cookie_header("The new session:", with_device=True),
        },
        **problems(
            InvalidCode,
            PasswordResetRequired,
            ChallengeNotFound,
            ChallengeExpired,
            ChallengeExhausted,
            *JSON_BODY,
            *DATABASE,
        ),
    },
)
async def verify(
    body: VerifyRequest,
    request: Request,
    response: Response,
    ctx: Context,
    session: Session,
    ip: ClientIP,
) -> SignedInOut:
    signed_in = await service.verify_second_step(
        session,
        ctx,
        challenge_id=body.challenge_id,
        proof=body.proof(),
        client=client_of(request, ip, ctx),
    )
    return _signed_in(signed_in, request, response, ctx)


def _signed_in(
    signed_in: service.SignedIn, request: Request, response: Response, ctx: Context
) -> SignedInOut:
    max_age = int(ctx.settings.session_absolute_lifetime.total_seconds())
    set_session_cookie(response, request, ctx.settings, signed_in.session.token, max_age=max_age)
    set_device_cookie(response, request, ctx.settings, signed_in.device_cookie)
    return SignedInOut.of(signed_in.account, signed_in.session.record)


@router.post(
    "/login/passkey/options",
    operation_id="passkeySignInOptions",
    summary="Begin signing in with a passkey alone: options for any discoverable passkey",
    openapi_extra=PUBLIC,
    responses=problems(PasskeySignInDisabled, TooManyAttempts, *DATABASE),
)
async def passkey_options(ctx: Context, session: Session, ip: ClientIP) -> PasskeyFlowOut:
    flow_id, options = await factors.passwordless_options(session, ctx, ip=ip)
    return PasskeyFlowOut(flow_id=flow_id, options=options)


@router.post(
    "/login/passkey",
    operation_id="signInWithPasskey",
    summary="Sign in with a discoverable passkey and user verification; starts a session",
    openapi_extra=PUBLIC,
    responses={
        200: {
            "description": "Signed in",
            "headers": cookie_header("The new session:", with_device=True),
        },
        **problems(
            PasskeyNotAccepted,
            PasskeyCounterRegressed,
            PasskeyChallengeExpired,
            PasskeySignInDisabled,
            PasswordResetRequired,
            TooManyAttempts,
            *JSON_BODY,
            *DATABASE,
        ),
    },
)
async def passkey_sign_in(
    body: PasskeySignInRequest,
    request: Request,
    response: Response,
    ctx: Context,
    session: Session,
    ip: ClientIP,
) -> SignedInOut:
    signed_in = await service.sign_in_with_passkey(
        session, ctx, flow_id=body.flow_id, credential=body.credential,
        client=client_of(request, ip, ctx),
    )  # fmt: skip
    return _signed_in(signed_in, request, response, ctx)


@router.post(
    "/login/resend",
    operation_id="resendLoginCode",
    summary="Send a new code (optionally on the other channel); the old one stops working",
    openapi_extra=PUBLIC,
    response_model_exclude_none=True,
    responses=problems(
        ChallengeNotFound,
        ChallengeExpired,
        ChallengeExhausted,
        ChannelUnavailable,
        FactorNotAllowed,
        ResendTooSoon,
        ResendLimitReached,
        *JSON_BODY,
        *DATABASE,
    ),
)
async def resend(
    body: ResendRequest, request: Request, ctx: Context, session: Session, ip: ClientIP
) -> ChallengeOut:
    view = await service.resend_code(
        session,
        ctx,
        challenge_id=body.challenge_id,
        channel=body.channel,
        client=client_of(request, ip, ctx),
    )
    return _challenge_out(view)


@router.get(
    "/login/challenges/{challenge_id}",
    operation_id="getLoginChallenge",
    summary="State of a login challenge and the delivery of its code",
    openapi_extra=PUBLIC,
    responses=problems(ChallengeNotFound, *PARAMETERS, *DATABASE),
)
async def challenge_status(
    challenge_id: uuid.UUID, ctx: Context, session: Session
) -> ChallengeStatusOut:
    status = await service.describe_challenge(session, ctx, challenge_id)
    view = status.view
    return ChallengeStatusOut(
        channel=view.channel,
        destination=view.destination,
        expires_at=view.expires_at,
        resend_after=view.resend_after,
        attempts_left=view.attempts_left,
        delivery=status.delivery,
    )


@router.post(
    "/session/reauthenticate",
    operation_id="reauthenticate",
    tags=["session"],
    summary="Re-enter the password or use a passkey: changes of how the account signs in are "
    "allowed for AUTHSVC_REAUTH_WINDOW",
    responses=problems(
        *SESSION_REFUSALS_UNSAFE,
        InvalidCredentials,
        PasskeyNotAccepted,
        PasskeyCounterRegressed,
        PasskeyChallengeExpired,
        TooManyAttempts,
        Overloaded,
        *JSON_BODY,
        *DATABASE,
    ),
)
async def reauthenticate(
    body: ReauthenticateRequest,
    me: CurrentSession,
    request: Request,
    ctx: Context,
    session: Session,
    ip: ClientIP,
) -> ReauthenticatedOut:
    until = await service.reauthenticate_session(
        session, ctx, account=me.account, user_session=me.session, password=body.password,
        client=client_of(request, ip, ctx), passkey=body.passkey,
    )  # fmt: skip
    return ReauthenticatedOut(reauthenticated_until=until)


@router.post(
    "/session/reauthenticate/options",
    operation_id="reauthenticatePasskeyOptions",
    tags=["session"],
    summary="Options for re-authenticating with one of the account's passkeys",
    responses=problems(*SESSION_REFUSALS_UNSAFE, FactorNotEnrolled, *DATABASE),
)
async def reauthenticate_options(
    me: CurrentSession, ctx: Context, session: Session
) -> PasskeyRequestOptionsOut:
    options = await factors.reauth_options(session, ctx, me.account, session_id=me.session.id)
    return PasskeyRequestOptionsOut(options=options)
