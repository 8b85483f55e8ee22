"""`CurrentSession`: the signed-in account for a request, from cookie or bearer token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPBearer

from authsvc.accounts.models import Account
from authsvc.sessions import service
from authsvc.sessions.errors import CsrfRejected, NotAuthenticated, ReauthenticationRequired
from authsvc.sessions.models import UserSession
from authsvc.sessions.rules import reauthenticated_recently
from authsvc.web.client_ip import request_client_ip
from authsvc.web.cookies import DEV_COOKIE, SECURE_COOKIE, read_session_cookie
from authsvc.web.dependencies import Context, context_of
from authsvc.web.headers import bearer_token, request_origin
from authsvc.web.openapi_docs import signs_in_with

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# The security schemes of openapi.yaml: either one signs a request in (see signs_in_with).
_COOKIE = APIKeyCookie(
    name=SECURE_COOKIE,
    scheme_name="sessionCookie",
    description="The session token as browsers hold it, set by `POST /login/verify`: "
    f"HttpOnly, Secure, SameSite=Lax. In dev mode over plain HTTP it is `{DEV_COOKIE}`. "
    "Unsafe methods must come from an allowed `Origin` (else `403 csrf_rejected`).",
    auto_error=False,
)
_BEARER = HTTPBearer(
    scheme_name="sessionBearer",
    description="The same session token, sent by non-browser clients as "
    "`Authorization: Bearer <token>`.",
    auto_error=False,
)
# What a route behind CurrentSession may be refused with, on safe and on unsafe methods.
SESSION_REFUSALS = (NotAuthenticated,)
SESSION_REFUSALS_UNSAFE = (NotAuthenticated, CsrfRejected)


@dataclass(frozen=True)
class Authenticated:
    account: Account
    session: UserSession
    via_cookie: bool


@signs_in_with(_COOKIE, _BEARER)  # the token is read below, the dev cookie name included
async def require_session(request: Request) -> Authenticated:
    # The context and the client's IP are read here rather than as dependencies: this is
    # the hottest call, and each dependency FastAPI resolves costs more than the reading.
    ctx = context_of(request)
    token = bearer_token(request)
    via_cookie = token is None
    if via_cookie:
        token = read_session_cookie(request, ctx.settings)
    if not token:
        raise NotAuthenticated()
    # A cookie rides along on cross-site requests; an unsafe one must prove its origin.
    cross_site_risk = via_cookie and request.method in UNSAFE_METHODS
    # The service's own pages (public_url's origin) pass too; CORS stays allowed_origins.
    if cross_site_risk and request_origin(request) not in ctx.settings.csrf_origins:
        raise CsrfRejected()
    found = await service.authenticate(ctx, token, ip=request_client_ip(request))
    if found is None:
        raise NotAuthenticated(NotAuthenticated.ENDED)
    user_session, account = found
    return Authenticated(account=account, session=user_session, via_cookie=via_cookie)


CurrentSession = Annotated[Authenticated, Depends(require_session)]


# What a route behind RecentlyReauthenticated may be refused with (unsafe methods only).
REAUTH_REFUSALS = (*SESSION_REFUSALS_UNSAFE, ReauthenticationRequired)


async def require_recent_reauthentication(current: CurrentSession, ctx: Context) -> Authenticated:
    """The signed-in session, when its password was re-entered within AUTHSVC_REAUTH_WINDOW:
    every change of how the account signs in (factors, contacts) needs it."""
    recent = reauthenticated_recently(
        current.session.reauthenticated_at, now=ctx.clock.now(), window=ctx.settings.reauth_window
    )
    if not recent:
        raise ReauthenticationRequired()
    return current


RecentlyReauthenticated = Annotated[Authenticated, Depends(require_recent_reauthentication)]
