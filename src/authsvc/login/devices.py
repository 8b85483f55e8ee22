"""Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies").

A browser that completes a two-step login gets `<nonce>.<signature>`, the signature an
HMAC of the nonce bound to the login name. The login name is not in the cookie: the
cookie proves itself only for the login typed with it, so it says nothing to whoever
reads it, and a cookie of one account is worthless for another.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from authsvc.core.crypto import Keyring

PURPOSE = "device-cookie"


def _subject(login: str) -> str:
    return login.strip().lower()


def issue(keyring: Keyring, login: str) -> str:
    nonce = secrets.token_urlsafe(16)
    signature = keyring.sign(PURPOSE, _subject(login), nonce)
    return f"{nonce}.{base64.urlsafe_b64encode(signature).decode().rstrip('=')}"


def device_id(keyring: Keyring, cookie: str | None, login: str) -> str | None:
    """The throttling identity of a valid cookie for `login` (a digest of its nonce, so
    the cookie itself is never stored), or None for no, a forged or another login's cookie.
    """
    if not cookie or cookie.count(".") != 1 or len(cookie) > 200:
        return None
    nonce, encoded = cookie.split(".")
    try:
        signature = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except ValueError:
        return None
    if not keyring.verify(PURPOSE, _subject(login), nonce, signature):
        return None
    return hashlib.sha256(nonce.encode()).hexdigest()[:32]
