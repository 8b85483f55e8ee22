"""Queries on authorization codes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    DateTime,
    Integer,
    LargeBinary,
    Uuid,
    and_,
    any_,
    bindparam,
    case,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningUpdate

from authsvc.accounts.models import Account
from authsvc.auth_codes.models import AuthCode
from authsvc.core.db import table_of

# Advisory lock class for "generating a code for this account" (pg_advisory_xact_lock(int, int)).
_GENERATION_LOCK = 0x41C0


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


def attempt_statement() -> ReturningUpdate[tuple[uuid.UUID, uuid.UUID, bool, bool, int, datetime]]:
    """Count one attempt against the live code of an enabled account, compare it, and
    lock the code on its last allowed mismatch: all in one statement.

    (No bound name is a column's: SQLAlchemy would take it for a SET value.)
    Bound: `attempt_account`, `candidates` (the typed code's HMACs under every key; empty for
    a malformed code), `now`, `max_mismatches`. RETURNING (code id, account id, matched,
    locked by this attempt, verifications, expires_at); no row when the account has no
    live code or the code has taken its mismatches.

    One UPDATE is atomic under concurrency: each attempt waits for the row lock, then
    sees the count the previous one left, so no more than `max_mismatches` wrong codes
    are ever compared and a right code never spends an attempt. The compare is a byte
    equality in PostgreSQL; its timing could at most tell how much of a guess's HMAC
    matches the stored one, which says nothing about the code without the key.
    """
    codes = table_of(AuthCode)
    accounts = table_of(Account)
    now = bindparam("now", type_=DateTime(timezone=True))
    max_mismatches = bindparam("max_mismatches", type_=Integer)
    matched = codes.c.code_mac == any_(bindparam("candidates", type_=ARRAY(LargeBinary)))
    locks = and_(~matched, codes.c.mismatches + 1 >= max_mismatches)  # the last allowed
    return (
        update(codes)
        .where(
            codes.c.account_id == bindparam("attempt_account", type_=Uuid),
            codes.c.account_id == accounts.c.id,
            accounts.c.disabled.is_(False),
            codes.c.revoked_at.is_(None),
            codes.c.expires_at > now,
            codes.c.mismatches < max_mismatches,
        )
        .values(
            mismatches=case((matched, codes.c.mismatches), else_=codes.c.mismatches + 1),
            verifications=case((matched, codes.c.verifications + 1), else_=codes.c.verifications),
            revoked_at=case((locks, now), else_=codes.c.revoked_at),
            revoke_reason=case((locks, "locked"), else_=codes.c.revoke_reason),
        )
        .returning(
            codes.c.id,
            codes.c.account_id,
            matched.label("matched"),
            codes.c.revoked_at.is_not(None).label("locked"),
            codes.c.verifications,
            codes.c.expires_at,
        )
    )
