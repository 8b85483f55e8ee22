"""Queries on sessions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, DateTime, Select, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.accounts.models import Account
from authsvc.core.db import Database, DriverQuery, loaded, table_of
from authsvc.sessions.models import UserSession
from authsvc.sessions.rules import idle_expiry_sql, touch_before


async def insert(session: AsyncSession, user_session: UserSession) -> None:
    session.add(user_session)
    await session.flush()


def _check_statement() -> Select[Any]:
    """The live session with this token digest and its enabled account, in one round
    trip; the session's last use is written (and its idle expiry slid) only when the
    stored one is older than the touch interval, so most checks write nothing.

    Bound: `digest`, `now`, `touch_before` (now minus the touch interval),
    `idle_until` (now plus the idle timeout). No row: no live session (revoked, idle or
    absolutely expired, unknown, or its account disabled). The last two columns are the
    touch's new values, NULL when the check did not write.
    """
    sessions = table_of(UserSession)
    accounts = table_of(Account)
    now = bindparam("now", type_=DateTime(timezone=True))
    live = [
        sessions.c.revoked_at.is_(None),
        sessions.c.expires_at > now,
        sessions.c.idle_expires_at > now,
    ]
    found = (
        select(*sessions.c, *accounts.c)
        .join_from(sessions, accounts, accounts.c.id == sessions.c.account_id)
        .where(sessions.c.token_hash == bindparam("digest"), *live, accounts.c.disabled.is_(False))
        .cte("found")
    )
    # Due only when the stored last use is older than the interval. Said twice: in the
    # subquery, so a check that is not due does not even look the row up again; on the
    # row itself, so that PostgreSQL repeats it under the row lock and of concurrent due
    # checks only the first writes. A session revoked meanwhile is not touched.
    stale = sessions.c.last_seen_at < bindparam("touch_before")  # rules.touch_before
    due = select(found.c.id).where(found.c.last_seen_at < bindparam("touch_before"))
    touched = (
        update(sessions)
        .where(sessions.c.id == due.scalar_subquery(), stale, *live)
        .values(
            last_seen_at=now,
            idle_expires_at=idle_expiry_sql(bindparam("idle_until"), sessions.c.expires_at),
        )
        .returning(sessions.c.id, sessions.c.last_seen_at, sessions.c.idle_expires_at)
        .cte("touched")
    )
    return select(*found.c, touched.c.last_seen_at, touched.c.idle_expires_at).select_from(
        found.outerjoin(touched, touched.c.id == found.c.id)
    )


_CHECK = DriverQuery(_check_statement())  # compiled once, run on the driver (core/db.py)
_SESSION_COLUMNS = [column.key for column in table_of(UserSession).c]
_ACCOUNT_COLUMNS = [column.key for column in table_of(Account).c]


async def find_live(
    db: Database,
    token_hash: bytes,
    *,
    now: datetime,
    idle_timeout: timedelta,
    touch_interval: timedelta,
) -> tuple[UserSession, Account] | None:
    """The live session for a token digest and its account; see `_check_statement`.

    Both come back attached to no session: the callers read them, and write by id.
    """
    params = {"digest": token_hash, "now": now, "touch_before": touch_before(now, touch_interval),
              "idle_until": now + idle_timeout}  # fmt: skip
    row = await db.fetch_row(_CHECK, params)
    if row is None:
        return None
    sessions = len(_SESSION_COLUMNS)
    session_values = dict(zip(_SESSION_COLUMNS, row[:sessions], strict=True))
    touched_last_seen, touched_idle = row[-2:]
    if touched_last_seen is not None:  # the row as this check left it
        session_values.update(last_seen_at=touched_last_seen, idle_expires_at=touched_idle)
    account_values = dict(zip(_ACCOUNT_COLUMNS, row[sessions:-2], strict=True))
    return loaded(UserSession, session_values), loaded(Account, account_values)


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
