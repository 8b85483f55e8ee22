"""Queries on authorization codes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.accounts.models import Account
from authsvc.accounts.repository import login_matches
from authsvc.auth_codes.models import AuthCode

# Advisory lock class for "generating a code for this account" (pg_advisory_xact_lock(int, int)).
_GENERATION_LOCK = 0x41C0


@dataclass(frozen=True)
class Attempt:
    """The live code as it stands after this attempt was counted."""

    id: uuid.UUID
    code_mac: bytes
    expires_at: datetime
    mismatches: int
    account_id: uuid.UUID
    login: str


async def lock_generation(session: AsyncSession, account_id: uuid.UUID) -> None:
    """Serialise code generation per account until the transaction ends.

    Without it two concurrent generations could both revoke the old code and then
    collide on the one-active-code index.
    """
    objid = int.from_bytes(account_id.bytes[:4], "big", signed=True)
    await session.execute(select(func.pg_advisory_xact_lock(_GENERATION_LOCK, objid)))


async def generated_since(
    session: AsyncSession, account_id: uuid.UUID, since: datetime
) -> tuple[int, datetime | None]:
    """How many codes the account generated after `since`, and when the first of them was."""
    query = select(func.count(), func.min(AuthCode.created_at)).where(
        AuthCode.account_id == account_id, AuthCode.created_at > since
    )
    count, first = (await session.execute(query)).one()
    return int(count), first


async def revoke_active(
    session: AsyncSession, account_id: uuid.UUID, *, now: datetime, reason: str
) -> uuid.UUID | None:
    query = (
        update(AuthCode)
        .where(AuthCode.account_id == account_id, AuthCode.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason=reason)
        .returning(AuthCode.id)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def insert(session: AsyncSession, code: AuthCode) -> None:
    session.add(code)
    await session.flush()


async def get_live(
    session: AsyncSession, account_id: uuid.UUID, *, now: datetime
) -> AuthCode | None:
    query = select(AuthCode).where(
        AuthCode.account_id == account_id,
        AuthCode.revoked_at.is_(None),
        AuthCode.expires_at > now,
    )
    return (await session.execute(query)).scalar_one_or_none()


async def get_latest(session: AsyncSession, account_id: uuid.UUID) -> AuthCode | None:
    query = (
        select(AuthCode)
        .where(AuthCode.account_id == account_id)
        .order_by(AuthCode.created_at.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def count_attempt(
    session: AsyncSession,
    *,
    account_id: uuid.UUID | None = None,
    login: str | None = None,
    now: datetime,
    max_mismatches: int,
) -> Attempt | None:
    """Count an attempt against the live code of an enabled account, by id or by login.

    The attempt is counted in the statement that finds the code. The row stays locked
    until the transaction ends, so the caller's compare, undo (on a match) or lock (on
    the last mismatch) is seen by the next attempt; an attempt past the limit finds no
    row at all.
    """
    customer = Account.id == account_id if login is None else login_matches(login)
    query = (
        update(AuthCode)
        .where(
            AuthCode.account_id == Account.id,
            customer,
            Account.disabled.is_(False),
            AuthCode.revoked_at.is_(None),
            AuthCode.expires_at > now,
            AuthCode.mismatches < max_mismatches,
        )
        .values(mismatches=AuthCode.mismatches + 1)
        .returning(
            AuthCode.id,
            AuthCode.code_mac,
            AuthCode.expires_at,
            AuthCode.mismatches,
            Account.id,
            Account.login,
        )
    )
    row = (await session.execute(query)).one_or_none()
    return None if row is None else Attempt(*row)


async def record_match(session: AsyncSession, code_id: uuid.UUID) -> int:
    """The code matched: take back the attempt and count a verification; the count."""
    statement = (
        update(AuthCode)
        .where(AuthCode.id == code_id)
        .values(mismatches=AuthCode.mismatches - 1, verifications=AuthCode.verifications + 1)
        .returning(AuthCode.verifications)
    )
    verifications: int = (await session.execute(statement)).scalar_one()
    return verifications


async def lock(session: AsyncSession, code_id: uuid.UUID, *, now: datetime) -> None:
    await session.execute(
        update(AuthCode)
        .where(AuthCode.id == code_id, AuthCode.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason="locked")
    )
