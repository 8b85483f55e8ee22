"""Queries on sessions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from authsvc.accounts.models import Account
from authsvc.sessions.models import UserSession
from authsvc.sessions.rules import idle_expiry


async def insert(session: AsyncSession, user_session: UserSession) -> None:
    session.add(user_session)
    await session.flush()


async def touch_live(
    session: AsyncSession, token_hash: bytes, *, now: datetime, idle_timeout: timedelta
) -> tuple[UserSession, Account] | None:
    """Find a live session by token and slide its idle expiry, in one round trip.

    Revoked, idle-expired and absolutely-expired sessions, and sessions of disabled
    accounts, are not found.
    """
    touched = (
        update(UserSession)
        .where(
            UserSession.token_hash == token_hash,
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > now,
            UserSession.idle_expires_at > now,
        )
        .values(
            last_seen_at=now,
            idle_expires_at=idle_expiry(now, idle_timeout, UserSession.expires_at),
        )
        .returning(UserSession.id)
        .cte("touched")
    )
    query = (
        select(UserSession, Account)
        .join(touched, UserSession.id == touched.c.id)
        .join(Account, Account.id == UserSession.account_id)
        .where(Account.disabled.is_(False))
        .execution_options(populate_existing=True)
    )
    row = (await session.execute(query)).one_or_none()
    if row is None:
        return None
    user_session, account = row
    # The outer SELECT sees the row as it was before the CTE's update; mirror the update
    # without marking the object dirty (which would cost another UPDATE at commit).
    set_committed_value(user_session, "last_seen_at", now)
    set_committed_value(
        user_session, "idle_expires_at", idle_expiry(now, idle_timeout, user_session.expires_at)
    )
    return user_session, account


async def revoke(session: AsyncSession, session_id: uuid.UUID, *, now: datetime) -> None:
    await session.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def _live(account_id: uuid.UUID, now: datetime) -> list[ColumnElement[bool]]:
    return [
        UserSession.account_id == account_id,
        UserSession.revoked_at.is_(None),
        UserSession.expires_at > now,
        UserSession.idle_expires_at > now,
    ]


async def list_live(
    session: AsyncSession, account_id: uuid.UUID, *, now: datetime
) -> Sequence[UserSession]:
    query = (
        select(UserSession).where(*_live(account_id, now)).order_by(UserSession.last_seen_at.desc())
    )
    return (await session.execute(query)).scalars().all()


async def revoke_owned(
    session: AsyncSession, account_id: uuid.UUID, session_id: uuid.UUID, *, now: datetime
) -> bool:
    """End one live session of the account; False when there is no such session."""
    statement = (
        update(UserSession)
        .where(UserSession.id == session_id, *_live(account_id, now))
        .values(revoked_at=now)
        .returning(UserSession.id)
    )
    return (await session.execute(statement)).first() is not None


async def revoke_all(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    now: datetime,
    keep: uuid.UUID | None = None,
) -> int:
    """End every live session of the account but `keep`; how many were ended."""
    conditions = _live(account_id, now)
    if keep is not None:
        conditions.append(UserSession.id != keep)
    statement = (
        update(UserSession).where(*conditions).values(revoked_at=now).returning(UserSession.id)
    )
    return len((await session.execute(statement)).all())


async def mark_reauthenticated(
    session: AsyncSession, session_id: uuid.UUID, *, now: datetime
) -> None:
    await session.execute(
        update(UserSession).where(UserSession.id == session_id).values(reauthenticated_at=now)
    )
