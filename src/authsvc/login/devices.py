"""Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies").

A browser that completes a two-step login gets `<nonce>.<epoch>.<signature>`, the
signature an HMAC of the nonce and the account's credential epoch, bound to the login
name. The login name is not in the cookie: the cookie proves itself only for the login
typed with it, so it says nothing to whoever reads it, and a cookie of one account is
worthless for another. The epoch is the account's `credential_epoch` when it was issued:
a password change or reset and "this wasn't me" raise it, and a cookie of an older epoch
stops counting as the customer's browser (the password step compares the two in SQL).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass

from authsvc.core.crypto import Keyring

PURPOSE = "device-cookie"


@dataclass(frozen=True)
class Device:
    """A cookie that is genuine for the login it was presented with."""

    id: str  # a digest of its nonce: the cookie itself is never stored
    epoch: int  # the credential epoch it was issued in


def issue(keyring: Keyring, folded_login: str, epoch: int) -> str:
    nonce = secrets.token_urlsafe(16)
    signature = keyring.sign(PURPOSE, folded_login, f"{nonce}.{epoch}")
    return f"{nonce}.{epoch}.{base64.urlsafe_b64encode(signature).decode().rstrip('=')}"


def device(keyring: Keyring, cookie: str | None, folded_login: str) -> Device | None:
    """The device a cookie proves for `folded_login`, or None for no cookie, a forged
    one or another login's. Whether its epoch is still the account's is the caller's to
    check against the account row."""
    if not cookie or cookie.count(".") != 2 or len(cookie) > 200:
        return None
    nonce, epoch_text, encoded = cookie.split(".")
    if not epoch_text.isascii() or not epoch_text.isdigit() or len(epoch_text) > 9:
        return None
    try:
        signature = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except ValueError:
        return None
    if not keyring.verify(PURPOSE, folded_login, f"{nonce}.{epoch_text}", signature):
        return None
    return Device(hashlib.sha256(nonce.encode()).hexdigest()[:32], int(epoch_text))
