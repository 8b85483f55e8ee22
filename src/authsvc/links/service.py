"""Single-use links in e-mails ("this wasn't me"): issued with the e-mail, redeemed once.

The token is 256 random bits in the link's path; only its HMAC under the server key is
stored, so a database dump holds no usable link. The link's page (GET) only reads its
state: mail scanners that follow links must not trigger anything.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.config import Settings
from authsvc.core.crypto import Keyring, random_token
from authsvc.links import repository
from authsvc.links.models import ActionLink

PURPOSE = "not-me-link"
PATH = "/not-me/"

State = Literal["usable", "used", "expired", "unknown"]
# What the e-mail reported (links.models.SUBJECT_KINDS).
SubjectKind = Literal["login", "auth_code", "contact", "factor"]


@dataclass(frozen=True)
class NewLink:
    url: str  # goes into the e-mail (encrypted in the outbox), never stored as such
    record: ActionLink


def issue(
    keyring: Keyring,
    settings: Settings,
    *,
    account_id: uuid.UUID,
    subject_kind: SubjectKind,
    subject_id: uuid.UUID,
    now: datetime,
) -> NewLink:
    token = random_token(32)
    record = ActionLink(
        id=uuid.uuid4(),
        token_hash=keyring.sign(PURPOSE, "", token),
        account_id=account_id,
        subject_kind=subject_kind,
        subject_id=subject_id,
        created_at=now,
        expires_at=now + settings.not_me_link_ttl,
    )
    return NewLink(url=f"{settings.public_url}{PATH}{token}", record=record)


async def add(session: AsyncSession, link: NewLink) -> None:
    await repository.insert(session, link.record)


def _hashes(keyring: Keyring, token: str) -> list[bytes]:
    return keyring.sign_all(PURPOSE, "", token)


async def state(session: AsyncSession, keyring: Keyring, token: str, *, now: datetime) -> State:
    """What the link's page should say; changes nothing."""
    found = await repository.find(session, _hashes(keyring, token))
    if found is None:
        return "unknown"
    if found.used_at is not None:
        return "used"
    return "expired" if found.expires_at <= now else "usable"


async def redeem(
    session: AsyncSession, keyring: Keyring, token: str, *, now: datetime
) -> ActionLink | None:
    """Mark the link used and return it; None unless it was usable. Exactly one of any
    number of concurrent redemptions gets the link."""
    return await repository.mark_used(session, _hashes(keyring, token), now=now)
