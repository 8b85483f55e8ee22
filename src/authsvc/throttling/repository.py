"""Statements on throttle counters. Each is one round trip and safe under concurrency."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    DateTime,
    Delete,
    Select,
    String,
    Subquery,
    any_,
    bindparam,
    case,
    delete,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from authsvc.core.db import table_of
from authsvc.throttling.models import ThrottleCounter

# The addresses list keeps the first MAX_IPS distinct ones of the window: enough for the
# customer's notice, bounded whatever an attacker sends.
MAX_IPS = 10
_RECORD_FAILURE = text(
    f"""
    INSERT INTO throttle_counters AS t (key, count, window_started_at, updated_at, ips)
    VALUES (:key, 1, :now, :now, ARRAY[CAST(:ip AS text)])
    ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN t.updated_at < :forget_before THEN 1 ELSE t.count + 1 END,
        window_started_at = CASE WHEN t.updated_at < :forget_before
                                 THEN :now ELSE t.window_started_at END,
        ips = CASE WHEN t.updated_at < :forget_before OR t.ips IS NULL THEN ARRAY[CAST(:ip AS text)]
                   WHEN :ip = ANY(t.ips) OR cardinality(t.ips) >= {MAX_IPS} THEN t.ips
                   ELSE array_append(t.ips, CAST(:ip AS text)) END,
        updated_at = :now
    RETURNING count, ips
    """  # noqa: S608 - MAX_IPS is our constant
)


def hit_statement(keys: Select[tuple[str]]) -> ReturningInsert[Any]:
    """One more hit on each key `keys` yields, in its fixed window (bound: `now`,
    `window_start`); RETURNING (hits so far, when the window began).

    `keys` may select from another statement's CTE, so a caller can look something up
    and count it in one round trip (the support tools' rate).
    """
    counters = table_of(ThrottleCounter)
    now = bindparam("now", type_=DateTime(timezone=True))
    window_start = bindparam("window_start", type_=DateTime(timezone=True))
    new_window = counters.c.window_started_at <= window_start
    key = keys.subquery("hit_keys").c[0]
    return (
        pg_insert(counters)
        .from_select(
            ["key", "count", "window_started_at", "updated_at"],
            select(key, literal(1), now, now),
        )
        .on_conflict_do_update(
            index_elements=[counters.c.key],
            set_={
                "count": case((new_window, 1), else_=counters.c.count + 1),
                "window_started_at": case((new_window, now), else_=counters.c.window_started_at),
                "updated_at": now,
            },
        )
        .returning(counters.c.count, counters.c.window_started_at)
    )


# Built once: SQLAlchemy then compiles it once.
_HIT = hit_statement(select(bindparam("counter", type_=String)))


async def count_failure(
    session: AsyncSession, key: str, *, now: datetime, forget_before: datetime, ip: str
) -> tuple[int, list[str]]:
    """One more failure on `key` from `ip` (restarting from 1 after a quiet window): the
    new count and the window's client addresses."""
    params = {"key": key, "now": now, "forget_before": forget_before, "ip": ip}
    count, ips = (await session.execute(_RECORD_FAILURE, params)).one()
    return count, list(ips or ())


async def block_until(session: AsyncSession, key: str, until: datetime) -> None:
    await session.execute(
        text("UPDATE throttle_counters SET blocked_until = :until WHERE key = :key"),
        {"key": key, "until": until},
    )


async def count_hit(
    session: AsyncSession, key: str, *, now: datetime, window_start: datetime
) -> tuple[int, datetime]:
    """One more hit on `key` in its fixed window: (hits so far, when the window began)."""
    params = {"counter": key, "now": now, "window_start": window_start}
    count, started = (await session.execute(_HIT, params)).one()
    return count, started


async def reset(session: AsyncSession, key: str) -> None:
    await session.execute(reset_statement(), {"reset_key": key})


def reset_statement() -> Delete:
    """DELETE of the counter named by the bound `reset_key`; other statements may carry
    it as a CTE (the login's)."""
    counters = table_of(ThrottleCounter)
    return delete(counters).where(counters.c.key == bindparam("reset_key"))


def blocking_state() -> Subquery:
    """One row: the latest back-off end among the counters of the bound `keys`, and which
    of those keys have a counter at all (an aggregate, so the row exists even for none)."""
    return (
        select(
            func.max(ThrottleCounter.blocked_until).label("blocked_until"),
            func.array_agg(ThrottleCounter.key).label("keys"),
        )
        # An array parameter, not an expanding IN: the SQL stays the same whatever the
        # number of keys, so it is compiled and prepared once.
        .where(ThrottleCounter.key == any_(bindparam("keys", type_=ARRAY(String))))
        .subquery()
    )
