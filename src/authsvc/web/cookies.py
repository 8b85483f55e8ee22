"""The session cookie and the device cookie.

`__Host-authsvc_session` (Secure, HttpOnly, SameSite=Lax, Path=/); the plain
`authsvc_session` without Secure only in dev mode over plain HTTP, where browsers
would drop a Secure cookie. The device cookie (`__Host-authsvc_device`, long-lived,
same attributes) marks a browser that completed a login; see login/devices.py.
"""

from __future__ import annotations

from fastapi import Request, Response

from authsvc.config import Settings

SECURE_COOKIE = "__Host-authsvc_session"
DEV_COOKIE = "authsvc_session"
SECURE_DEVICE_COOKIE = "__Host-authsvc_device"
DEV_DEVICE_COOKIE = "authsvc_device"


def _plain_http_dev(request: Request, settings: Settings) -> bool:
    return settings.is_dev and request.url.scheme == "http"


def _read(request: Request, settings: Settings, secure_name: str, dev_name: str) -> str | None:
    value = request.cookies.get(secure_name)
    if value is None and settings.is_dev:
        value = request.cookies.get(dev_name)
    return value


def _set(
    response: Response,
    request: Request,
    settings: Settings,
    names: tuple[str, str],
    value: str,
    *,
    max_age: int,
) -> None:
    plain = _plain_http_dev(request, settings)
    secure_name, dev_name = names
    response.set_cookie(
        dev_name if plain else secure_name,
        value,
        max_age=max_age,
        path="/",
        secure=not plain,
        httponly=True,
        samesite="lax",
    )


def read_session_cookie(request: Request, settings: Settings) -> str | None:
    return _read(request, settings, SECURE_COOKIE, DEV_COOKIE)


def set_session_cookie(
    response: Response, request: Request, settings: Settings, token: str, *, max_age: int
) -> None:
    _set(response, request, settings, (SECURE_COOKIE, DEV_COOKIE), token, max_age=max_age)


def read_device_cookie(request: Request, settings: Settings) -> str | None:
    return _read(request, settings, SECURE_DEVICE_COOKIE, DEV_DEVICE_COOKIE)


def set_device_cookie(response: Response, request: Request, settings: Settings, value: str) -> None:
    max_age = int(settings.device_cookie_lifetime.total_seconds())
    names = (SECURE_DEVICE_COOKIE, DEV_DEVICE_COOKIE)
    _set(response, request, settings, names, value, max_age=max_age)


def clear_session_cookie(response: Response, request: Request, settings: Settings) -> None:
    plain = _plain_http_dev(request, settings)
    response.delete_cookie(
        DEV_COOKIE if plain else SECURE_COOKIE,
        path="/",
        secure=not plain,
        httponly=True,
        samesite="lax",
    )
