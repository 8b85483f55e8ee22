"""Encryption at rest of authenticator app secrets.

AES-256-GCM under a key derived (HKDF) from AUTHSVC_SECRET_KEY, a random nonce per
secret and the factor's id as associated data, so a sealed secret cannot be moved to
another row. The first configured key seals, every one opens (rotation).
"""

from __future__ import annotations

import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from authsvc.core.crypto import Keyring

KEY_LABEL = "totp-secret"
VERSION = b"\x01"
NONCE_BYTES = 12


class SealError(Exception):
    """No configured key opens the sealed secret (the key it was sealed under is gone)."""


def seal(keyring: Keyring, factor_id: uuid.UUID, secret: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    key = keyring.hkdf_all(KEY_LABEL)[0]
    return VERSION + nonce + AESGCM(key).encrypt(nonce, secret.encode(), factor_id.bytes)


def unseal(keyring: Keyring, factor_id: uuid.UUID, blob: bytes) -> str:
    if blob[:1] != VERSION:
        raise SealError("unknown sealed format")
    nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    for key in keyring.hkdf_all(KEY_LABEL):
        try:
            return AESGCM(key).decrypt(nonce, sealed, factor_id.bytes).decode()
        except InvalidTag:
            continue
    raise SealError("no configured key opens the sealed secret")
