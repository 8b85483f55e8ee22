"""Queries on login challenges. Each rule that must hold under concurrency is one statement."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    Insert,
    Integer,
    LargeBinary,
    any_,
    bindparam,
    case,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningUpdate

from authsvc.accounts.models import Account
from authsvc.accounts.repository import account_from_row, login_matches
from authsvc.core.db import insert_statement, row_params, table_of
from authsvc.delivery import repository as outbox_rows
from authsvc.delivery.models import OutboxMessage
from authsvc.links.models import ActionLink
from authsvc.login.models import LoginChallenge
from authsvc.sessions.models import UserSession
from authsvc.throttling import repository as throttle_counters


@dataclass(frozen=True)
class LoginState:
    """What the password step needs to know before it hashes anything."""

    account: Account | None
    blocked_until: datetime | None  # the latest back-off end among the throttle keys
    counted_keys: frozenset[str]  # the throttle keys that have a counter


# The password step's two statements are built once: on the hot path SQLAlchemy then
# finds them in its compiled cache instead of building and compiling them per login.
# Both run as Core statements on the session's connection: no ORM work per login.
_counters = throttle_counters.blocking_state()
# The aggregate subquery always yields one row, so the account is outer-joined to it.
_LOAD_LOGIN_STATE = (
    select(_counters.c.blocked_until, _counters.c["keys"], *table_of(Account).c)
    .select_from(_counters)
    .outerjoin(table_of(Account), login_matches(bindparam("login")))
)


async def load_login_state(
    session: AsyncSession, login: str, throttle_keys: Sequence[str]
) -> LoginState:
    """The account for `login` (or None) and its throttle state, in one round trip."""
    params = {"login": login, "keys": list(throttle_keys)}
    connection = await session.connection()
    blocked_until, keys, *account = (await connection.execute(_LOAD_LOGIN_STATE, params)).one()
    return LoginState(account_from_row(account), blocked_until, frozenset(keys or ()))


@cache
def _open_challenge_statement(messages: int, reset_throttle_key: bool) -> Insert:
    """INSERT the challenge WITH each message's INSERT (and the counter's DELETE) as CTEs,
    each built by the domain that owns the table.

    One INSERT per message rather than one multi-row INSERT: SQLAlchemy cannot cache the
    compiled form of a multi-row VALUES.
    """
    statement = insert_statement(LoginChallenge, "c_")
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
    params = row_params(challenge, "c_")
    for n, message in enumerate(messages):
        params.update(outbox_rows.queue_params(message, f"m{n}_"))
    if reset_throttle_key is not None:
        params["reset_key"] = reset_throttle_key
    statement = _open_challenge_statement(len(messages), reset_throttle_key is not None)
    await (await session.connection()).execute(statement, params)


async def get(session: AsyncSession, challenge_id: uuid.UUID) -> LoginChallenge | None:
    return await session.get(LoginChallenge, challenge_id)


async def get_for_update(session: AsyncSession, challenge_id: uuid.UUID) -> LoginChallenge | None:
    query = select(LoginChallenge).where(LoginChallenge.id == challenge_id).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


@dataclass(frozen=True)
class Attempt:
    """What spending an attempt found: the challenge's account and whether the code
    matched (the challenge is then used)."""

    account: Account
    attempts: int  # spent so far, this one included
    notice_id: uuid.UUID | None
    matched: bool


def _spend_attempt_statement() -> ReturningUpdate[Any]:
    """Spend one attempt of a live challenge, compare the code and, when it matches, mark
    the challenge used: one statement (bound: `challenge`, `candidates`, `now`,
    `max_attempts`). RETURNING the attempts, the notice, matched and the account's row.

    Concurrent guesses wait for the row lock and see what the previous one left, so at
    most `max_attempts` of them are ever compared and one right code signs in once. The
    caller's transaction keeps the row locked until the session is written.
    """
    challenges = table_of(LoginChallenge)
    accounts = table_of(Account)
    now = bindparam("now", type_=challenges.c.consumed_at.type)
    matched = challenges.c.code_hash == any_(bindparam("candidates", type_=ARRAY(LargeBinary)))
    return (
        update(challenges)
        .where(
            challenges.c.id == bindparam("challenge", type_=challenges.c.id.type),
            challenges.c.account_id == accounts.c.id,
            challenges.c.consumed_at.is_(None),
            challenges.c.expires_at > now,
            challenges.c.attempts < bindparam("max_attempts", type_=Integer),
        )
        .values(
            attempts=challenges.c.attempts + 1,
            consumed_at=case((matched, now), else_=challenges.c.consumed_at),
        )
        .returning(challenges.c.attempts, challenges.c.notice_id, matched, *accounts.c)
    )


_SPEND_ATTEMPT = _spend_attempt_statement()  # built once, so compiled once


async def spend_attempt(
    session: AsyncSession,
    challenge_id: uuid.UUID,
    *,
    candidates: list[bytes],
    now: datetime,
    max_attempts: int,
) -> Attempt | None:
    """None when the challenge has no attempt left to spend (unknown, used, expired or
    exhausted: `get` tells which)."""
    params = {"challenge": challenge_id, "candidates": candidates, "now": now,
              "max_attempts": max_attempts}  # fmt: skip
    connection = await session.connection()  # Core: no ORM work on the hot path
    row = (await connection.execute(_SPEND_ATTEMPT, params)).one_or_none()
    if row is None:
        return None
    attempts, notice_id, matched, *account = row
    found = account_from_row(account)
    assert found is not None  # joined on the challenge's foreign key
    return Attempt(found, attempts, notice_id, matched)


def _finish_login_statement() -> Insert:
    """INSERT the new session WITH its "this wasn't me" link, the confirmation e-mail and
    the cancel of the account's pending "not completed" notices as CTEs, each built by
    the domain that owns the table. Bound: `s_*`, `l_*`, `m_*` (the rows), `account`,
    `own_notice` (the used challenge's notice), `now` and `cancel_at`."""
    challenges = table_of(LoginChallenge)
    now = bindparam("now", type_=challenges.c.expires_at.type)
    pending = select(challenges.c.notice_id).where(
        challenges.c.account_id == bindparam("account", type_=challenges.c.account_id.type),
        challenges.c.consumed_at.is_(None),
        challenges.c.notice_id.is_not(None),
        challenges.c.expires_at > now,
    )
    notices = pending.union_all(select(bindparam("own_notice", type_=challenges.c.notice_id.type)))
    return (
        insert_statement(UserSession, "s_")
        .add_cte(insert_statement(ActionLink, "l_").cte("not_me_link"))
        .add_cte(outbox_rows.queue_statement("m_").cte("confirmation"))
        .add_cte(outbox_rows.cancel_statement(notices).cte("cancelled_notices"))
    )


_FINISH_LOGIN = _finish_login_statement()


async def finish_login(
    session: AsyncSession,
    *,
    user_session: UserSession,
    link: ActionLink,
    confirmation: OutboxMessage,
    own_notice: uuid.UUID | None,
    now: datetime,
) -> None:
    """Write the session, its link and its e-mail, and cancel the pending notices, in one
    round trip."""
    params = {
        **row_params(user_session, "s_"),
        **row_params(link, "l_"),
        **outbox_rows.queue_params(confirmation, "m_"),
        "account": user_session.account_id,
        "own_notice": own_notice,
        "now": now,
        "cancel_at": now,
    }
    connection = await session.connection()
    await connection.execute(_FINISH_LOGIN, params)
