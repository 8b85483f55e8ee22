"""Queries on login challenges. Each rule that must hold under concurrency is one statement."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Insert, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.accounts.models import Account
from authsvc.accounts.repository import login_matches
from authsvc.core.db import column_values, table_of
from authsvc.delivery import repository as outbox_rows
from authsvc.delivery.models import OutboxMessage
from authsvc.login.models import LoginChallenge
from authsvc.throttling import repository as throttle_counters


@dataclass(frozen=True)
class LoginState:
    """What the password step needs to know before it hashes anything."""

    account: Account | None
    blocked_until: datetime | None  # the latest back-off end among the throttle keys
    counted_keys: frozenset[str]  # the throttle keys that have a counter


# The password step's two statements are built once: on the hot path SQLAlchemy then
# finds them in its compiled cache instead of building and compiling them per login.
_counters = throttle_counters.blocking_state()
# The aggregate subquery always yields one row, so the account is outer-joined to it.
_LOAD_LOGIN_STATE = (
    select(Account, _counters.c.blocked_until, _counters.c["keys"])
    .select_from(_counters)
    .outerjoin(Account, login_matches(bindparam("login")))
)


async def load_login_state(
    session: AsyncSession, login: str, throttle_keys: Sequence[str]
) -> LoginState:
    """The account for `login` (or None) and its throttle state, in one round trip."""
    params = {"login": login, "keys": list(throttle_keys)}
    account, blocked_until, keys = (await session.execute(_LOAD_LOGIN_STATE, params)).one()
    return LoginState(account, blocked_until, frozenset(keys or ()))


@cache
def _open_challenge_statement(messages: int, reset_throttle_key: bool) -> Insert:
    """INSERT the challenge WITH each message's INSERT (and the counter's DELETE) as CTEs,
    each built by the domain that owns the table.

    One INSERT per message rather than one multi-row INSERT: SQLAlchemy cannot cache the
    compiled form of a multi-row VALUES.
    """
    challenges = table_of(LoginChallenge)
    values = {
        column.key: bindparam("c_" + column.key, type_=column.type) for column in challenges.c
    }
    statement = insert(challenges).values(values)
    for n in range(messages):
        statement = statement.add_cte(outbox_rows.queue_statement(f"m{n}_").cte(f"queued_{n}"))
    if reset_throttle_key:
        statement = statement.add_cte(throttle_counters.reset_statement().cte("reset"))
    return statement


async def open_challenge(
    session: AsyncSession,
    challenge: LoginChallenge,
    messages: Sequence[OutboxMessage],
    *,
    reset_throttle_key: str | None,
) -> None:
    """Write the challenge, the messages it sends and, when given, the reset of a
    throttle counter, as one statement: all or nothing even in autocommit, one round trip.
    """
    params = {f"c_{key}": value for key, value in column_values(challenge).items()}
    for n, message in enumerate(messages):
        params.update(outbox_rows.queue_params(message, f"m{n}_"))
    if reset_throttle_key is not None:
        params["reset_key"] = reset_throttle_key
    statement = _open_challenge_statement(len(messages), reset_throttle_key is not None)
    await session.execute(statement, params)


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
