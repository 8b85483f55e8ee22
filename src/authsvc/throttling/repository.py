"""Statements on throttle counters. Each is one round trip and safe under concurrency."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Delete,
    Float,
    Integer,
    Select,
    String,
    Text,
    Update,
    any_,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from authsvc.core.db import table_of
from authsvc.throttling.models import ThrottleCounter
from authsvc.throttling.rules import Policy

# The addresses list keeps the first MAX_IPS distinct ones of the window: enough for the
# customer's notice, bounded whatever an attacker sends.
MAX_IPS = 10


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


def policy_params(prefix: str, policy: Policy, *, now: datetime) -> dict[str, object]:
    """The bound values of one `reserve_statement` policy."""
    return {
        f"{prefix}free": policy.free_failures,
        f"{prefix}base": policy.base_delay.total_seconds(),
        f"{prefix}cap": policy.max_delay.total_seconds(),
        f"{prefix}forget_before": now - policy.window,
    }


def reserve_statement(keys: Select[Any], prefix: str) -> ReturningInsert[Any]:
    """Count one failure on each key `keys` yields before the password is even checked,
    and set the back-off that failure earns: the reservation that makes the password
    back-off hold under bursts. RETURNING (key, failures so far, the window's addresses);
    no row for a key whose back-off runs, which is then left as it was.

    The statement is the rule, because it must hold under concurrency: each caller gets
    its own count from the row lock's queue, and the one whose failure would start a
    back-off sets it before any later caller is admitted, so a burst evaluates exactly
    as many passwords as a sequence of requests would before its first refusal.
    `rules.backoff_delay` says the same in Python (a test holds them together); a correct
    password hands the reservation back (`release_statement`, or the reset).

    Bound: `now`, `ip`, and the policy as `<prefix>free`, `<prefix>base`, `<prefix>cap`,
    `<prefix>forget_before` (`policy_params`).
    """
    counters = table_of(ThrottleCounter)
    now = bindparam("now", type_=DateTime(timezone=True))
    ip = cast(bindparam("ip", type_=String), Text)
    free = bindparam(f"{prefix}free", type_=Integer)
    base = bindparam(f"{prefix}base", type_=Float)  # seconds
    cap = bindparam(f"{prefix}cap", type_=Float)
    forgotten = counters.c.updated_at < bindparam(f"{prefix}forget_before", type_=DateTime(True))
    count = case((forgotten, 1), else_=counters.c.count + 1)

    def blocked_after(failures: ColumnElement[int]) -> ColumnElement[datetime]:
        doubled = base * func.power(2, func.least(failures - free - 1, 30))
        wait = func.make_interval(0, 0, 0, 0, 0, 0, func.least(doubled, cap))
        return case((failures > free, now + wait), else_=None)

    first_ips = postgresql.array([ip])
    known_or_full = or_(ip == any_(counters.c.ips), func.cardinality(counters.c.ips) >= MAX_IPS)
    key = keys.subquery("reserve_keys").c[0]
    return (
        pg_insert(counters)
        .from_select(
            ["key", "count", "window_started_at", "updated_at", "ips", "blocked_until"],
            select(key, literal(1), now, now, first_ips, blocked_after(literal(1))),
        )
        .on_conflict_do_update(
            index_elements=[counters.c.key],
            set_={
                "count": count,
                "window_started_at": case((forgotten, now), else_=counters.c.window_started_at),
                "ips": case(
                    (or_(forgotten, counters.c.ips.is_(None)), first_ips),
                    (known_or_full, counters.c.ips),
                    else_=func.array_append(counters.c.ips, ip),
                ),
                "updated_at": now,
                "blocked_until": blocked_after(count),
            },
            where=or_(counters.c.blocked_until.is_(None), counters.c.blocked_until <= now),
        )
        .returning(counters.c.key, counters.c.count, counters.c.ips)
    )


def release_statement(prefix: str) -> Update:
    """Hand back one reserved failure of the key bound as `<prefix>key` (its password
    was right), lifting the back-off the reservation set when the failures left are
    free ones again. For counters a success does not clear (the client address's)."""
    counters = table_of(ThrottleCounter)
    left = counters.c.count - 1
    return (
        update(counters)
        .where(counters.c.key == bindparam(f"{prefix}key"), counters.c.count > 0)
        .values(
            count=left,
            blocked_until=case(
                (left <= bindparam(f"{prefix}free", type_=Integer), None),
                else_=counters.c.blocked_until,
            ),
        )
    )


# Built once: SQLAlchemy then compiles it once.
_HIT = hit_statement(select(bindparam("counter", type_=String)))


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
