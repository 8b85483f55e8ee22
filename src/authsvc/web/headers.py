"""Headers: those every response gets, and those a request's credentials come in."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class SecurityHeadersMiddleware:
    """`Cache-Control: no-store` by default: responses carry codes, tokens and account data.

    With `hsts_max_age` (seconds; 0 sends none), every response also carries
    `Strict-Transport-Security`: browsers then refuse plain HTTP to this host and any
    certificate warning they could be clicked through. Browsers ignore it on a plain HTTP
    answer, so it is sent whatever scheme the proxy in front of us spoke.

    Pure ASGI: no per-request task or body buffering.
    """

    def __init__(self, app: ASGIApp, *, hsts_max_age: int = 0) -> None:
        self.app = app
        self.hsts = f"max-age={hsts_max_age}" if hsts_max_age > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Cache-Control", "no-store")
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                if self.hsts is not None:
                    headers.setdefault("Strict-Transport-Security", self.hsts)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def bearer_token(request: Request) -> str | None:
    """The token of `Authorization: Bearer <token>`, or None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def request_origin(request: Request) -> str | None:
    """The Origin header, or failing that (no Origin at all) the origin part of the Referer.

    A present Origin is the browser's word, `null` included: sandboxed frames, `data:`
    documents and cross-origin redirects send it, an origin that cannot be checked, so it
    is refused (no allowed origin is `null`) rather than replaced by a Referer that such
    a request may still carry.
    """
    origin = request.headers.get("origin")
    if origin is not None:
        return origin.rstrip("/")
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.scheme and referer.netloc:
        return f"{referer.scheme}://{referer.netloc}"
    return None
