"""Support API keys: random, shown once, stored as a digest, named, scoped, revocable."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeGuard

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.core.crypto import random_token, token_digest
from authsvc.support import repository
from authsvc.support.errors import (
    InsufficientScope,
    InvalidKeySpec,
    KeyNameTaken,
    KeyNotFound,
)
from authsvc.support.models import SupportKey

log = logging.getLogger("authsvc.support")

KEY_PREFIX = "asv_"  # recognisable in config files and by secret scanners
KEY_MAX_LENGTH = 100  # ours are 47 characters; room for a longer format later
VERIFY_SCOPE = "auth-codes:verify"
# Every scope some endpoint checks; a key granted anything else could never use it.
KNOWN_SCOPES = (VERIFY_SCOPE,)
DEFAULT_SCOPES = (VERIFY_SCOPE,)
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class NewKey:
    key: str  # shown once, never stored
    record: SupportKey


def validate(name: str, scopes: Sequence[str]) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidKeySpec(
            "A key name is 1 to 64 letters, digits and . _ - (starting with a letter or digit)."
        )
    if not scopes:
        raise InvalidKeySpec("A key needs at least one scope.")
    for scope in scopes:
        if scope not in KNOWN_SCOPES:
            known = ", ".join(KNOWN_SCOPES)
            raise InvalidKeySpec(f"{scope!r} is not a scope authsvc knows (known: {known}).")


async def create_key(
    session: AsyncSession, *, name: str, scopes: Sequence[str] = DEFAULT_SCOPES, now: datetime
) -> NewKey:
    validate(name, scopes)
    key = KEY_PREFIX + random_token(32)  # 256 bits
    record = SupportKey(
        id=uuid.uuid4(),
        name=name,
        key_digest=token_digest(key),
        scopes=sorted(set(scopes)),
        created_at=now,
        revoked_at=None,
    )
    try:
        async with session.begin_nested():
            await repository.insert_key(session, record)
    except IntegrityError:
        raise KeyNameTaken(f"A support key named {name!r} already exists.") from None
    log.info("support key created name=%s id=%s scopes=%s", name, record.id, ",".join(scopes))
    return NewKey(key=key, record=record)


async def list_keys(session: AsyncSession) -> Sequence[SupportKey]:
    return await repository.list_keys(session)


async def revoke_key(session: AsyncSession, *, name: str, now: datetime) -> SupportKey:
    record = await repository.revoke_key(session, name, now=now)
    if record is None:
        raise KeyNotFound(f"No support key named {name!r}.")
    log.info("support key revoked name=%s id=%s", name, record.id)
    return record


def missing_scope(name: str, scope: str) -> InsufficientScope:
    return InsufficientScope(f"The key {name!r} lacks the scope {scope!r}.")


def well_formed(key: str | None) -> TypeGuard[str]:
    """Whether `key` could be a key at all; anything else is refused without a lookup."""
    return key is not None and key.startswith(KEY_PREFIX) and len(key) <= KEY_MAX_LENGTH
