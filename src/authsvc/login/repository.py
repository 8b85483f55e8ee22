"""Queries on login challenges. Each rule that must hold under concurrency is one statement."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.login.models import LoginChallenge


async def insert(session: AsyncSession, challenge: LoginChallenge) -> None:
    session.add(challenge)
    await session.flush()


async def get(session: AsyncSession, challenge_id: uuid.UUID) -> LoginChallenge | None:
    return await session.get(LoginChallenge, challenge_id)


async def get_for_update(session: AsyncSession, challenge_id: uuid.UUID) -> LoginChallenge | None:
    query = select(LoginChallenge).where(LoginChallenge.id == challenge_id).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


@dataclass(frozen=True)
class CountedAttempt:
    account_id: uuid.UUID
    code_hash: bytes
    attempts: int
    notice_id: uuid.UUID | None


async def count_attempt(
    session: AsyncSession, challenge_id: uuid.UUID, *, now: datetime, max_attempts: int
) -> CountedAttempt | None:
    """Spend one attempt, before the code is compared; None when none is left to spend.

    The row lock taken here is held until commit, so concurrent guesses queue behind
    each other and at most `max_attempts` of them are ever compared.
    """
    statement = (
        update(LoginChallenge)
        .where(
            LoginChallenge.id == challenge_id,
            LoginChallenge.consumed_at.is_(None),
            LoginChallenge.expires_at > now,
            LoginChallenge.attempts < max_attempts,
        )
        .values(attempts=LoginChallenge.attempts + 1)
        .returning(
            LoginChallenge.account_id,
            LoginChallenge.code_hash,
            LoginChallenge.attempts,
            LoginChallenge.notice_id,
        )
    )
    row = (await session.execute(statement)).one_or_none()
    return CountedAttempt(*row) if row else None


async def consume(session: AsyncSession, challenge_id: uuid.UUID, *, now: datetime) -> bool:
    """Mark the challenge used; True for exactly one caller."""
    statement = (
        update(LoginChallenge)
        .where(LoginChallenge.id == challenge_id, LoginChallenge.consumed_at.is_(None))
        .values(consumed_at=now)
        .returning(LoginChallenge.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def pending_notices(
    session: AsyncSession, account_id: uuid.UUID, *, now: datetime
) -> Sequence[uuid.UUID]:
    """Scheduled "not completed" notices of the account's unfinished challenges."""
    query = select(LoginChallenge.notice_id).where(
        LoginChallenge.account_id == account_id,
        LoginChallenge.consumed_at.is_(None),
        LoginChallenge.notice_id.is_not(None),
        LoginChallenge.expires_at > now,
    )
    return [notice for notice in (await session.execute(query)).scalars() if notice]
