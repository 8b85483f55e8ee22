"""Encryption at rest for secret message parameters (the OTP in a queued message).

AES-256-GCM under a sub-key derived from AUTHSVC_SECRET_KEY, a random nonce per message
and the message id as associated data, so a sealed blob cannot be moved to another row.
"""

from __future__ import annotations

import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from authsvc.core.crypto import Keyring
from authsvc.delivery.errors import SealError

KEY_LABEL = "outbox"
VERSION = b"\x01"  # lets a later format coexist with rows already queued
NONCE_BYTES = 12


def seal(keyring: Keyring, message_id: uuid.UUID, plaintext: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(keyring.derive(KEY_LABEL)).encrypt(nonce, plaintext, message_id.bytes)
    return VERSION + nonce + sealed


def unseal(keyring: Keyring, message_id: uuid.UUID, blob: bytes) -> bytes:
    """Open a blob sealed under any configured key (keys rotate; the first one seals)."""
    if blob[:1] != VERSION:
        raise SealError("unknown sealed format")
    nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    for key in keyring.derive_all(KEY_LABEL):
        try:
            return AESGCM(key).decrypt(nonce, sealed, message_id.bytes)
        except InvalidTag:
            continue
    raise SealError("no configured key opens the sealed parameters")
