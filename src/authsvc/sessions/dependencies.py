"""`CurrentSession`: the signed-in account for a request, from cookie or bearer token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request

from authsvc.accounts.models import Account
from authsvc.context import Context, Session
from authsvc.core.errors import AppError
from authsvc.sessions import service
from authsvc.sessions.cookies import read_session_cookie
from authsvc.sessions.models import UserSession

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class NotAuthenticated(AppError):
    status = 401
    code = "not_authenticated"
    title = "Not signed in"


class CsrfRejected(AppError):
    status = 403
    code = "csrf_rejected"
    title = "Request origin not allowed"


@dataclass(frozen=True)
class Authenticated:
    account: Account
    session: UserSession
    via_cookie: bool


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def request_origin(request: Request) -> str | None:
    """The Origin header, or failing that the origin part of the Referer."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        return origin.rstrip("/")
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.scheme and referer.netloc:
        return f"{referer.scheme}://{referer.netloc}"
    return None


async def require_session(request: Request, ctx: Context, session: Session) -> Authenticated:
    token = bearer_token(request)
    via_cookie = token is None
    if via_cookie:
        token = read_session_cookie(request, ctx.settings)
    if not token:
        raise NotAuthenticated("Sign in first.")
    # A cookie rides along on cross-site requests; an unsafe one must prove its origin.
    cross_site_risk = via_cookie and request.method in UNSAFE_METHODS
    # The service's own pages (public_url's origin) pass too; CORS stays allowed_origins.
    if cross_site_risk and request_origin(request) not in ctx.settings.csrf_origins:
        raise CsrfRejected("Cookie-authenticated requests must come from an allowed origin.")
    found = await service.authenticate(session, token, now=ctx.clock.now(), settings=ctx.settings)
    if found is None:
        raise NotAuthenticated("The session has expired or was ended; sign in again.")
    user_session, account = found
    return Authenticated(account=account, session=user_session, via_cookie=via_cookie)


CurrentSession = Annotated[Authenticated, Depends(require_session)]
