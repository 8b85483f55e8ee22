"""Queries on contact changes. The rule that must hold under concurrency (an attempt
counted, the code compared and the change used) is one statement."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, Integer, LargeBinary, String, any_, bindparam, case, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningUpdate

from authsvc.contacts.models import ContactChange
from authsvc.core.db import table_of


async def open_change(session: AsyncSession, change: ContactChange) -> None:
    """Write `change`; an open change of the same kind ends (only the latest code works)."""
    await session.execute(
        update(ContactChange)
        .where(
            ContactChange.account_id == change.account_id,
            ContactChange.kind == change.kind,
            ContactChange.consumed_at.is_(None),
        )
        .values(consumed_at=change.created_at)
    )
    session.add(change)
    await session.flush()


async def get(
    session: AsyncSession, change_id: uuid.UUID, *, account_id: uuid.UUID, kind: str
) -> ContactChange | None:
    """The account's change of `kind`; another account's change is no change at all."""
    found = await session.get(ContactChange, change_id)
    if found is None or found.account_id != account_id or found.kind != kind:
        return None
    return found


async def get_applied(session: AsyncSession, change_id: uuid.UUID) -> ContactChange | None:
    """The change when its code was confirmed (a "this wasn't me" link names only such)."""
    found = await session.get(ContactChange, change_id)
    return found if found is not None and found.consumed_at is not None else None


@dataclass(frozen=True)
class Attempt:
    attempts: int  # spent so far, this one included
    matched: bool  # the typed code is the one sent (the change is then used)
    new_value: str


def _spend_attempt_statement() -> ReturningUpdate[Any]:
    """Spend one attempt of a live change, compare the code and, when it matches, mark
    the change used: one statement (bound: `change`, `account`, `change_kind`, `candidates`,
    `now`, `max_attempts`).

    Concurrent confirmations wait for the row lock and see what the previous one left:
    at most `max_attempts` codes are ever compared, and a right code applies the change
    once. The caller's transaction keeps the row locked until the change is applied.
    """
    changes = table_of(ContactChange)
    now = bindparam("now", type_=changes.c.consumed_at.type)
    matched = changes.c.code_hash == any_(bindparam("candidates", type_=ARRAY(LargeBinary)))
    return (
        update(changes)
        .where(
            changes.c.id == bindparam("change", type_=changes.c.id.type),
            changes.c.account_id == bindparam("account", type_=changes.c.account_id.type),
            changes.c.kind == bindparam("change_kind", type_=String),
            changes.c.consumed_at.is_(None),
            changes.c.expires_at > now,
            changes.c.attempts < bindparam("max_attempts", type_=Integer),
        )
        .values(
            attempts=changes.c.attempts + 1,
            consumed_at=case((matched, now), else_=changes.c.consumed_at),
        )
        .returning(changes.c.attempts, matched, changes.c.new_value)
    )


_SPEND_ATTEMPT = _spend_attempt_statement()  # built once, so compiled once


async def spend_attempt(
    session: AsyncSession,
    change_id: uuid.UUID,
    *,
    account_id: uuid.UUID,
    kind: str,
    candidates: list[bytes],
    now: datetime,
    max_attempts: int,
) -> Attempt | None:
    """None when the change has no attempt left to spend (unknown, used, expired or
    exhausted: `get` tells which)."""
    params = {"change": change_id, "account": account_id, "change_kind": kind,
              "candidates": candidates, "now": now, "max_attempts": max_attempts}  # fmt: skip
    connection = await session.connection()  # Core: the ORM adds nothing to it
    row = (await connection.execute(_SPEND_ATTEMPT, params)).one_or_none()
    if row is None:
        return None
    attempts, matched, new_value = row
    return Attempt(attempts, bool(matched), new_value)
