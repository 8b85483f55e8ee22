"""Queries on authenticator apps and recovery codes. What must hold under concurrency
(a time step spent once, a recovery code used once) is one statement."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ARRAY, LargeBinary, any_, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.core.db import table_of
from authsvc.factors.models import RecoveryCode, TotpFactor
from authsvc.factors.rules import Enrolled


@dataclass(frozen=True)
class RecoverySet:
    remaining: int
    created_at: datetime


async def enrolled(session: AsyncSession, account_id: uuid.UUID) -> Enrolled:
    """The account's confirmed app and unused recovery codes, in one round trip."""
    totp = select(func.count()).where(
        TotpFactor.account_id == account_id, TotpFactor.confirmed_at.is_not(None)
    )
    codes = select(func.count()).where(
        RecoveryCode.account_id == account_id, RecoveryCode.used_at.is_(None)
    )
    row = (await session.execute(select(totp.scalar_subquery(), codes.scalar_subquery()))).one()
    return Enrolled(totp=row[0] > 0, recovery_codes=row[1])


# --- the authenticator app ------------------------------------------------------------


async def get_totp(session: AsyncSession, account_id: uuid.UUID) -> TotpFactor | None:
    query = select(TotpFactor).where(TotpFactor.account_id == account_id)
    return (await session.execute(query)).scalar_one_or_none()


async def active_totp(session: AsyncSession, account_id: uuid.UUID) -> TotpFactor | None:
    query = select(TotpFactor).where(
        TotpFactor.account_id == account_id, TotpFactor.confirmed_at.is_not(None)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def replace_pending_totp(session: AsyncSession, factor: TotpFactor) -> bool:
    """Write a pending app in place of a pending one; False (nothing written) when the
    account has a confirmed app. One statement, so two enrolments race safely."""
    table = table_of(TotpFactor)
    statement = (
        postgres_insert(TotpFactor)
        .values(
            id=factor.id, account_id=factor.account_id, secret_sealed=factor.secret_sealed,
            created_at=factor.created_at, expires_at=factor.expires_at, last_step=0,
        )
        .on_conflict_do_update(
            index_elements=[TotpFactor.account_id],
            set_={
                "id": factor.id, "secret_sealed": factor.secret_sealed,
                "created_at": factor.created_at, "expires_at": factor.expires_at,
                "last_step": 0, "last_used_at": None,
            },
            where=table.c.confirmed_at.is_(None),
        )
        .returning(TotpFactor.id)
    )  # fmt: skip
    return (await session.execute(statement)).first() is not None


async def spend_step(
    session: AsyncSession,
    account_id: uuid.UUID,
    step: int,
    *,
    now: datetime,
    pending_id: uuid.UUID | None = None,
) -> bool:
    """Accept time step `step` of the account's app: True for exactly one caller, and
    never for a step at or below one accepted before (the replay rule is this WHERE).

    With `pending_id` it is the enrolment's first code: that pending, unexpired app is
    confirmed by the same statement."""
    conditions = [TotpFactor.account_id == account_id, TotpFactor.last_step < step]
    values: dict[str, object] = {"last_step": step, "last_used_at": now}
    if pending_id is None:
        conditions.append(TotpFactor.confirmed_at.is_not(None))
    else:
        conditions += [
            TotpFactor.id == pending_id,
            TotpFactor.confirmed_at.is_(None),
            TotpFactor.expires_at > now,
        ]
        values["confirmed_at"] = now
    statement = (
        update(TotpFactor)
        .where(*conditions)
        .values(**values)
        .returning(TotpFactor.id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).first() is not None


async def delete_totp(session: AsyncSession, account_id: uuid.UUID) -> bool:
    statement = delete(TotpFactor).where(TotpFactor.account_id == account_id)
    return (await session.execute(statement.returning(TotpFactor.id))).first() is not None


# --- recovery codes -------------------------------------------------------------------


async def replace_recovery_codes(
    session: AsyncSession, account_id: uuid.UUID, hashes: Sequence[bytes], *, now: datetime
) -> None:
    """The account's new set: the old one stops working in the same transaction."""
    await delete_recovery_codes(session, account_id)
    session.add_all(
        RecoveryCode(id=uuid.uuid4(), account_id=account_id, code_hash=h, created_at=now)
        for h in hashes
    )
    await session.flush()


async def delete_recovery_codes(session: AsyncSession, account_id: uuid.UUID) -> None:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account_id))


async def use_recovery_code(
    session: AsyncSession, account_id: uuid.UUID, candidates: list[bytes], *, now: datetime
) -> bool:
    """Use the unused code of the account whose HMAC is one of `candidates`: True for
    exactly one of concurrent callers (`used_at IS NULL` is checked by the statement
    that sets it)."""
    statement = (
        update(RecoveryCode)
        .where(
            RecoveryCode.account_id == account_id,
            RecoveryCode.code_hash
            == any_(bindparam("candidates", candidates, type_=ARRAY(LargeBinary))),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .returning(RecoveryCode.id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).first() is not None


async def recovery_set(session: AsyncSession, account_id: uuid.UUID) -> RecoverySet | None:
    query = select(
        func.count().filter(RecoveryCode.used_at.is_(None)), func.min(RecoveryCode.created_at)
    ).where(RecoveryCode.account_id == account_id)
    remaining, created_at = (await session.execute(query)).one()
    return RecoverySet(remaining, created_at) if created_at is not None else None
