"""Queries on password resets and security events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.protection.models import PasswordReset, SecurityEvent


async def insert_reset(session: AsyncSession, reset: PasswordReset) -> None:
    session.add(reset)
    await session.flush()


async def get_reset(session: AsyncSession, reset_id: uuid.UUID) -> PasswordReset | None:
    return await session.get(PasswordReset, reset_id)


async def get_reset_for_update(session: AsyncSession, reset_id: uuid.UUID) -> PasswordReset | None:
    query = select(PasswordReset).where(PasswordReset.id == reset_id).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


@dataclass(frozen=True)
class CountedAttempt:
    account_id: uuid.UUID | None
    code_hash: bytes
    attempts: int


async def count_attempt(
    session: AsyncSession, reset_id: uuid.UUID, *, now: datetime, max_attempts: int
) -> CountedAttempt | None:
    """Spend one attempt before the code is compared (as the login does); None when none
    is left. The row lock is held until commit, so concurrent guesses queue."""
    statement = (
        update(PasswordReset)
        .where(
            PasswordReset.id == reset_id,
            PasswordReset.consumed_at.is_(None),
            PasswordReset.expires_at > now,
            PasswordReset.attempts < max_attempts,
        )
        .values(attempts=PasswordReset.attempts + 1)
        .returning(PasswordReset.account_id, PasswordReset.code_hash, PasswordReset.attempts)
    )
    row = (await session.execute(statement)).one_or_none()
    return CountedAttempt(*row) if row else None


async def consume(session: AsyncSession, reset_id: uuid.UUID, *, now: datetime) -> bool:
    """Mark the reset used; True for exactly one caller."""
    statement = (
        update(PasswordReset)
        .where(PasswordReset.id == reset_id, PasswordReset.consumed_at.is_(None))
        .values(consumed_at=now)
        .returning(PasswordReset.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def end_open_resets(session: AsyncSession, account_id: uuid.UUID, *, now: datetime) -> None:
    """A finished reset ends the account's other open ones: their codes stop working."""
    await session.execute(
        update(PasswordReset)
        .where(PasswordReset.account_id == account_id, PasswordReset.consumed_at.is_(None))
        .values(consumed_at=now)
    )


async def record_event(session: AsyncSession, event: SecurityEvent) -> None:
    session.add(event)
    await session.flush()
