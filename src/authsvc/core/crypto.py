"""Keyed hashing and random secrets.

Codes (6 digits) are stored as HMAC-SHA256 under the server secret, bound to what they
belong to and their purpose: an unkeyed hash of a 6-digit code falls to brute force in
a second. Several keys may be configured; the first signs, all verify (rotation).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class Keyring:
    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one secret key is needed")
        self._keys = list(keys)
        self._hkdf: dict[str, list[bytes]] = {}  # by label: derived once, not per use

    def derive(self, label: str) -> bytes:
        """A sub-key for one use (e.g. outbox encryption), from the signing key."""
        return hmac.new(self._keys[0], f"authsvc:{label}".encode(), hashlib.sha256).digest()

    def derive_all(self, label: str) -> list[bytes]:
        """The same sub-key from every configured key, signing key first (for decryption)."""
        labelled = f"authsvc:{label}".encode()
        return [hmac.new(key, labelled, hashlib.sha256).digest() for key in self._keys]

    def hkdf_all(self, label: str) -> list[bytes]:
        """A 256-bit HKDF-SHA256 key for one use from every configured key, signing key
        first: the first encrypts, all of them decrypt (rotation)."""
        derived = self._hkdf.get(label)
        if derived is None:
            derived = self._hkdf[label] = [_hkdf(key, label) for key in self._keys]
        return list(derived)

    def sign(self, purpose: str, subject: str, secret: str) -> bytes:
        return _mac(self._keys[0], purpose, subject, secret)

    def sign_all(self, purpose: str, subject: str, secret: str) -> list[bytes]:
        """`sign` under every configured key: a lookup by keyed hash finds rows written
        before a key rotation too."""
        return [_mac(key, purpose, subject, secret) for key in self._keys]

    def verify(self, purpose: str, subject: str, secret: str, stored: bytes) -> bool:
        """Constant-time check against every configured key, so old keys keep working."""
        matched = False
        for key in self._keys:
            # No early exit: the time taken does not reveal which key matched.
            matched |= hmac.compare_digest(_mac(key, purpose, subject, secret), stored)
        return matched


def _hkdf(key: bytes, label: str) -> bytes:
    derive = HKDF(algorithm=SHA256(), length=32, salt=None, info=f"authsvc:{label}".encode())
    return derive.derive(key)


def _mac(key: bytes, purpose: str, subject: str, secret: str) -> bytes:
    message = f"{purpose}\x00{subject}\x00{secret}".encode()
    return hmac.new(key, message, hashlib.sha256).digest()


def random_token(nbytes: int = 32) -> str:
    """A URL-safe random token (256 bits by default)."""
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> bytes:
    """Lookup hash for high-entropy tokens (sessions, API keys); these need no key."""
    return hashlib.sha256(token.encode()).digest()
