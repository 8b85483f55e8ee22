"""Mount the static pages with their security headers.

The pages are plain HTML, CSS and JavaScript modules that talk to the public JSON API
only; nothing here renders per request, so another web server can serve the same files
(see `STATIC_DIR` and the `authsvc-api` meta tag in each page).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authsvc.config import Settings

STATIC_DIR = Path(__file__).parent / "static"

# URL prefix -> folder under STATIC_DIR. Pages refer to the shared files as ../assets/.
MOUNTS = {"/panel": "panel", "/support": "support", "/assets": "common"}


def content_security_policy(api_origins: Iterable[str] = ()) -> str:
    """No inline code or styles, nothing from elsewhere, never framed."""
    connect = " ".join(["'self'", *api_origins])
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src {connect}",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ]
    )


class PageHeaders:
    """Adds the page headers to every response of the wrapped app (pure ASGI)."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def page_headers(api_origins: Iterable[str] = ()) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(api_origins),
        "X-Frame-Options": "DENY",
        # A page may show an authorization code: never keep it in a cache.
        "Cache-Control": "no-store",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    }


def install_pages(app: FastAPI, settings: Settings) -> None:
    """Serve /panel/, /support/ and their shared /assets/ from the package."""
    # The pages served here call this same service, so 'self' is the only API origin.
    headers = page_headers()
    for prefix, folder in MOUNTS.items():
        files = StaticFiles(directory=STATIC_DIR / folder, html=True)
        app.mount(prefix, PageHeaders(files, headers), name=f"pages-{folder}")
