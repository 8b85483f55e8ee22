"""Statements on the outbox: queue, cancel and follow a message; the worker's claim and
the record of how each attempt ended.

A claim bumps `attempts` and pushes `next_attempt_at` to the end of a lease, then commits
before anything is sent; every later update names the attempt it belongs to, so a worker
whose lease ran out (and whose message another worker picked up) changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast, get_args

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    CompoundSelect,
    Insert,
    Integer,
    Select,
    String,
    Update,
    any_,
    bindparam,
    exists,
    func,
    insert,
    literal_column,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.core.db import insert_statement, row_params, table_of
from authsvc.delivery.models import OutboxMessage, State
from authsvc.delivery.rendering import Channel

_NO_SYNC: dict[str, Any] = {"synchronize_session": False}

# The outbox's partial indexes are on state = 'queued', so the state is written into the
# SQL, not bound: asyncpg prepares every statement, and after five runs PostgreSQL may
# switch to a generic plan, which cannot prove that `state = $1` matches the index
# predicate. The claim then scanned the whole table: 12 ms of CPU at a few thousand rows.
QUEUED = literal_column("'queued'", String)


# --- what the rest of the service does through outbox.py --------------------------------


def queue_statement(prefix: str, *, only_if: Select[Any] | None = None) -> Insert:
    """INSERT of one message, its values bound as `{prefix}{column}` (see `queue_params`):
    a statement of another domain carries it as a CTE to write its rows and its messages
    in one round trip (the login's). With `only_if` (a SELECT with its own FROM and
    WHERE), the message is written only when that finds a row (the support check's
    first-valid notice)."""
    if only_if is None:
        return insert_statement(OutboxMessage, prefix)
    outbox = table_of(OutboxMessage)
    values = [bindparam(prefix + column.key, type_=column.type) for column in outbox.c]
    return insert(outbox).from_select(
        [column.key for column in outbox.c], only_if.with_only_columns(*values)
    )


def queue_params(message: OutboxMessage, prefix: str) -> dict[str, Any]:
    return row_params(message, prefix)


def cancel_statement(ids: Select[Any] | CompoundSelect[Any]) -> Update:
    """Cancel the queued messages among `ids` (bound: `cancel_at`); a statement of
    another domain carries it as a CTE (the login's, for its "not completed" notices)."""
    outbox = table_of(OutboxMessage)
    return (
        update(outbox)
        # = ANY(ARRAY(subquery)): the ids are gathered once, then found by primary key;
        # an IN (subquery) may be planned as a join that scans the outbox.
        .where(outbox.c.id == any_(func.array(ids.scalar_subquery())), outbox.c.state == QUEUED)
        .values(state="cancelled", params=None, sealed_params=None,
                finished_at=bindparam("cancel_at", type_=outbox.c.finished_at.type))
    )  # fmt: skip


# One message by id: the same statement as the login's cancel of its notices.
_CANCEL = cancel_statement(select(bindparam("message_id", type_=table_of(OutboxMessage).c.id.type)))


async def cancel(session: AsyncSession, message_id: uuid.UUID, *, now: datetime) -> None:
    await session.execute(_CANCEL, {"message_id": message_id, "cancel_at": now})


@dataclass(frozen=True)
class MessageStatus:
    state: State
    attempts: int
    last_error: str | None


async def status(session: AsyncSession, message_id: uuid.UUID) -> MessageStatus | None:
    m = OutboxMessage
    query = select(m.state, m.attempts, m.last_error).where(m.id == message_id)
    row = (await session.execute(query)).one_or_none()
    if row is None:
        return None
    return MessageStatus(
        state=cast(State, row.state), attempts=row.attempts, last_error=row.last_error
    )


async def stored_params(
    session: AsyncSession, message_id: uuid.UUID
) -> tuple[dict[str, str], bytes | None] | None:
    """The plain and the sealed parameters; None once wiped or when unknown."""
    m = OutboxMessage
    query = select(m.params, m.sealed_params).where(m.id == message_id)
    row = (await session.execute(query)).one_or_none()
    if row is None or row.params is None:
        return None
    return dict(row.params), row.sealed_params


@dataclass(frozen=True)
class Backlog:
    # By channel, every channel present (0 when it has none), so a gauge falls back to 0.
    due: dict[Channel, int]  # queued and due now: the worker's to send
    waiting: dict[Channel, int]  # queued for later: a retry's backoff, a lease, a scheduled notice
    oldest_due_since: datetime | None


async def backlog(session: AsyncSession, *, now: datetime) -> Backlog:
    """The queue at a glance by channel, along the partial index of queued rows only."""
    m = OutboxMessage
    due = m.next_attempt_at <= now
    query = (
        select(
            m.channel,
            func.count().filter(due),
            func.count().filter(~due),
            func.min(m.send_after).filter(due),
        )
        .where(m.state == QUEUED)
        .group_by(m.channel)
    )
    rows = {row[0]: row for row in (await session.execute(query)).all()}
    channels: tuple[Channel, ...] = get_args(Channel)
    return Backlog(
        due={channel: rows[channel][1] if channel in rows else 0 for channel in channels},
        waiting={channel: rows[channel][2] if channel in rows else 0 for channel in channels},
        oldest_due_since=min((row[3] for row in rows.values() if row[3] is not None), default=None),
    )


# --- the worker ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    channel: Channel
    recipient: str
    template: str
    locale: str
    params: dict[str, str]
    sealed_params: bytes | None
    attempts: int  # including this one
    send_after: datetime
    failed_before: bool = False  # it may have held later messages to its recipient


# A recipient's messages leave in order once one of them has failed. A later message
# waits while an earlier one to the same address is queued with an error, and is marked
# with an error itself, so it holds the ones after it in turn (and a login challenge shows
# its delivery as failed). A gateway that comes back then gets them as they were created,
# not as their jittered backoffs fall. Without failures nothing waits: a recipient's
# messages go out in parallel, as before.
HELD_ERROR = "waiting for an earlier message to this recipient"


def _behind_a_failure(table: Any = None) -> ColumnElement[bool]:
    """An earlier message to the same recipient is queued with an error (correlated to
    `table`: the outbox_messages of the enclosing query, or an alias of it)."""
    m = (table if table is not None else table_of(OutboxMessage)).c
    earlier = table_of(OutboxMessage).alias("earlier").c
    return exists().where(
        earlier.state == QUEUED,
        earlier.last_error.is_not(None),
        earlier.channel == m.channel,
        earlier.recipient == m.recipient,
        tuple_(earlier.send_after, earlier.created_at, earlier.id)
        < tuple_(m.send_after, m.created_at, m.id),
    )


# Built once: it takes no parameters, and building it is most of a claim's Python time.
_BEHIND_A_FAILURE = _behind_a_failure()


def _claimed_columns() -> tuple[Any, ...]:
    m = OutboxMessage
    return (
        m.id,
        m.channel,
        m.recipient,
        m.template,
        m.locale,
        m.params,
        m.sealed_params,
        m.attempts,
        m.send_after,
        m.last_error.is_not(None).label("failed_before"),
    )


def _claim_statement() -> Any:
    """The claim as one statement, its values bound as `now`, `lease_until` and `limit`.

    Each returned row also carries `next_due_at`: when the earliest queued message the
    claim left alone comes due (later than now, not held), so the worker knows how long
    it may sleep without asking again. The subquery reads the statement's snapshot, in
    which the rows just claimed are still due now, hence `> now`.
    """
    m = OutboxMessage
    now = bindparam("now", type_=m.next_attempt_at.type)
    held = (
        select(m.id)
        .where(
            m.state == QUEUED,
            m.last_error.is_(None),
            m.next_attempt_at <= now,
            _BEHIND_A_FAILURE,
        )
        .with_for_update(skip_locked=True)
    )
    # Marking the held ones rides along as a CTE: still one round trip per claim. Both
    # parts read the same snapshot, which is enough: a message is held by the failure
    # ahead of it whether or not the ones in between are marked yet.
    mark_held = (
        update(m)
        .where(m.id.in_(held.scalar_subquery()))
        .values(last_error=HELD_ERROR)
        .returning(m.id)
        .cte("mark_held")
    )
    due = (
        select(m.id)
        .where(m.state == QUEUED, m.next_attempt_at <= now, ~_BEHIND_A_FAILURE)
        .order_by(m.next_attempt_at)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(skip_locked=True)
    )
    later = table_of(OutboxMessage).alias("later")
    next_due = (
        select(later.c.next_attempt_at)
        .where(later.c.state == QUEUED, later.c.next_attempt_at > now, ~_behind_a_failure(later))
        .order_by(later.c.next_attempt_at)
        .limit(1)
        .scalar_subquery()
        .label("next_due_at")
    )
    return (
        update(m)
        .add_cte(mark_held)
        .where(m.id.in_(due.scalar_subquery()))
        .values(attempts=m.attempts + 1, next_attempt_at=bindparam("lease_until", type_=now.type))
        .returning(*_claimed_columns(), next_due)
        .execution_options(**_NO_SYNC)
    )


# Built once, so SQLAlchemy finds its compiled form in the cache on every claim.
_CLAIM = _claim_statement()


@dataclass(frozen=True)
class Claim:
    messages: list[Claimed]
    # When the earliest queued message not claimed now comes due; None when none is queued.
    next_due_at: datetime | None


async def claim(
    session: AsyncSession, *, now: datetime, lease_until: datetime, limit: int
) -> Claim:
    """Take up to `limit` due messages that no other worker holds (SKIP LOCKED) and that
    no earlier failed message to their recipient holds back; one statement, atomic alone
    (autocommit is enough). Says when to look again, from the same round trip unless
    nothing was claimed."""
    # On the Core connection: through the ORM session, each run of this update would
    # re-derive its cache key (a tenth of the worker's CPU in the profile).
    connection = await session.connection()
    params = {"now": now, "lease_until": lease_until, "limit": limit}
    rows = (await connection.execute(_CLAIM, params)).all()
    messages = [
        Claimed(
            id=row.id,
            channel=row.channel,
            recipient=row.recipient,
            template=row.template,
            locale=row.locale,
            params=dict(row.params or {}),
            sealed_params=row.sealed_params,
            attempts=row.attempts,
            send_after=row.send_after,
            failed_before=row.failed_before,
        )
        for row in rows
    ]
    if not rows:
        return Claim(messages, await next_due_at(session))
    return Claim(messages, rows[0].next_due_at)


async def claim_due(
    session: AsyncSession, *, now: datetime, lease_until: datetime, limit: int
) -> list[Claimed]:
    """The messages of `claim`."""
    return (await claim(session, now=now, lease_until=lease_until, limit=limit)).messages


# Built once, like the claim.
_NEXT_DUE_AT = (
    select(OutboxMessage.next_attempt_at)
    .where(OutboxMessage.state == QUEUED, ~_BEHIND_A_FAILURE)
    .order_by(OutboxMessage.next_attempt_at)
    .limit(1)
)


async def next_due_at(session: AsyncSession) -> datetime | None:
    """When the earliest queued message (or lease) comes due; held ones come due when
    the message ahead of them is sent (the worker then looks again at once)."""
    # ORDER BY ... LIMIT 1 rather than min(): it walks the due index and stops at the
    # first message not held, instead of checking every queued one.
    found: datetime | None = await session.scalar(_NEXT_DUE_AT)
    return found


async def mark_sent(
    session: AsyncSession, message_id: uuid.UUID, *, attempt: int, now: datetime
) -> bool:
    return message_id in await mark_sent_many(session, [(message_id, attempt)], now=now)


def _mark_sent_statement() -> Any:
    """The sends as two arrays (`sent_ids`, `sent_attempts`) unnested into pairs: one
    statement text for any number of sends, compiled once (an IN list of tuples is
    rendered anew for every call)."""
    m = OutboxMessage
    sent = (
        func.unnest(
            bindparam("sent_ids", type_=ARRAY(m.id.type)),
            bindparam("sent_attempts", type_=ARRAY(Integer)),
        )
        .table_valued("id", "attempt")
        .render_derived()
    )
    return (
        update(m)
        # Also from `cancelled`: a cancel that raced the send does not undo the send.
        .where(
            tuple_(m.id, m.attempts).in_(select(sent.c.id, sent.c.attempt)),
            m.state.in_(("queued", "cancelled")),
        )
        .values(
            state="sent",
            params=None,
            sealed_params=None,
            finished_at=bindparam("now", type_=m.finished_at.type),
            last_error=None,
        )
        .returning(m.id)
        .execution_options(**_NO_SYNC)
    )


_MARK_SENT = _mark_sent_statement()


async def mark_sent_many(
    session: AsyncSession, sent: Sequence[tuple[uuid.UUID, int]], *, now: datetime
) -> set[uuid.UUID]:
    """Record sends (message id, attempt) in one statement; returns the ids still held."""
    if not sent:
        return set()
    params = {"sent_ids": [i for i, _ in sent], "sent_attempts": [n for _, n in sent], "now": now}
    rows = await (await session.connection()).execute(_MARK_SENT, params)  # as in `claim`
    return {row.id for row in rows}


async def mark_abandoned(
    session: AsyncSession, message_id: uuid.UUID, *, attempt: int, now: datetime, error: str
) -> bool:
    return await _finish(
        session,
        message_id,
        attempt=attempt,
        states=("queued",),
        values={"state": "abandoned", "finished_at": now, "last_error": error},
    )


async def mark_retry(
    session: AsyncSession,
    message_id: uuid.UUID,
    *,
    attempt: int,
    retry_at: datetime,
    error: str,
) -> bool:
    m = OutboxMessage
    result = await session.execute(
        update(m)
        .where(m.id == message_id, m.attempts == attempt, m.state == "queued")
        .values(next_attempt_at=retry_at, last_error=error)
        .execution_options(**_NO_SYNC)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _finish(
    session: AsyncSession,
    message_id: uuid.UUID,
    *,
    attempt: int,
    states: tuple[str, ...],
    values: dict[str, object],
) -> bool:
    """Move to a final state and wipe the parameters (the OTP) for good."""
    m = OutboxMessage
    result = await session.execute(
        update(m)
        .where(m.id == message_id, m.attempts == attempt, m.state.in_(states))
        .values(params=None, sealed_params=None, **values)
        .execution_options(**_NO_SYNC)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
