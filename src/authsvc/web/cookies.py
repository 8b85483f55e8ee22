"""The session cookie.

`__Host-authsvc_session` (Secure, HttpOnly, SameSite=Lax, Path=/); the plain
`authsvc_session` without Secure only in dev mode over plain HTTP, where browsers
would drop a Secure cookie.
"""

from __future__ import annotations

from fastapi import Request, Response

from authsvc.config import Settings

SECURE_COOKIE = "__Host-authsvc_session"
DEV_COOKIE = "authsvc_session"


def _plain_http_dev(request: Request, settings: Settings) -> bool:
    return settings.is_dev and request.url.scheme == "http"


def read_session_cookie(request: Request, settings: Settings) -> str | None:
    token = request.cookies.get(SECURE_COOKIE)
    if token is None and settings.is_dev:
        token = request.cookies.get(DEV_COOKIE)
    return token


def set_session_cookie(
    response: Response, request: Request, settings: Settings, token: str, *, max_age: int
) -> None:
    plain = _plain_http_dev(request, settings)
    response.set_cookie(
        DEV_COOKIE if plain else SECURE_COOKIE,
        token,
        max_age=max_age,
        path="/",
        secure=not plain,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, request: Request, settings: Settings) -> None:
    plain = _plain_http_dev(request, settings)
    response.delete_cookie(
        DEV_COOKIE if plain else SECURE_COOKIE,
        path="/",
        secure=not plain,
        httponly=True,
        samesite="lax",
    )
