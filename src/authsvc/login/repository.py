"""Queries on login challenges. Each rule that must hold under concurrency is one statement."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Insert,
    Integer,
    LargeBinary,
    Select,
    String,
    any_,
    bindparam,
    case,
    exists,
    func,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningUpdate
from sqlalchemy.sql.selectable import HasCTE

from authsvc.accounts.models import Account
from authsvc.accounts.repository import account_from_row, login_matches
from authsvc.core.db import insert_statement, row_params, table_of
from authsvc.delivery import repository as outbox_rows
from authsvc.delivery.models import OutboxMessage
from authsvc.factors.strategy import Read
from authsvc.links.models import ActionLink
from authsvc.login.models import LoginChallenge
from authsvc.sessions.models import UserSession
from authsvc.throttling import repository as throttle_counters
from authsvc.throttling import rules as throttle_rules
from authsvc.throttling.models import ThrottleCounter


@dataclass(frozen=True)
class ThrottleKeys:
    """The counters a password attempt is reserved on, each under its own policy."""

    login_key: str  # the login name's, shared by every client without a device cookie
    device_key: str | None  # the device's, when the client shows a genuine cookie
    device_epoch: int | None  # the credential epoch that cookie was issued in
    ip_key: str  # the client address's: a correct password hands its reservation back
    ip: str
    own_policy: throttle_rules.Policy
    ip_policy: throttle_rules.Policy

    def params(self, now: datetime) -> dict[str, object]:
        """The bound values of `_reserve_statement`, but the login."""
        return {
            "login_key": self.login_key, "device_key": self.device_key,
            "device_epoch": self.device_epoch, "ip_key": self.ip_key, "ip": self.ip,
            "now": now,
            **throttle_counters.policy_params("own_", self.own_policy, now=now),
            **throttle_counters.policy_params("ip_", self.ip_policy, now=now),
        }  # fmt: skip


@dataclass(frozen=True)
class Reservation:
    """What the password step found and reserved before it hashes anything
    (`reserve_password_attempt`)."""

    account: Account | None
    own_key: str  # the login name's counter, or the device's when its cookie is current
    own: tuple[int, list[str]] | None  # its failures with this one, and their addresses
    ip_reserved: bool
    blocked_until: datetime | None  # the latest back-off end among both keys, if any runs

    @property
    def admitted(self) -> bool:
        """Both counters took this attempt: the password may be checked."""
        return self.own is not None and self.ip_reserved


def _reserve_statement() -> Select[Any]:
    """The account of a folded login and one failure reserved on its throttle counters,
    in one round trip. Bound: `login`, `login_key`, `device_key` and `device_epoch` (both
    None without a device cookie), `ip_key`, `ip`, `now`, and both policies
    (`own_*`, `ip_*`: throttling.repository.policy_params).

    The device's counter stands in for the login name's only while the cookie's epoch
    is still the account's (a password change or reset, or "this wasn't me", raise it).
    Neither counter is touched while either one's back-off runs, as far as this
    statement's snapshot shows; a back-off that starts concurrently refuses its own key
    in the upsert itself, and the caller hands the other key back.
    """
    counters = table_of(ThrottleCounter)
    account = select(*table_of(Account).c).where(login_matches(bindparam("login"))).cte("account")
    current_device = (
        select(bindparam("device_key", type_=String))
        .where(account.c.credential_epoch == bindparam("device_epoch", type_=Integer))
        .scalar_subquery()
    )
    own_key = func.coalesce(current_device, bindparam("login_key", type_=String))
    ip_key = bindparam("ip_key", type_=String)
    now = bindparam("now", type_=counters.c.blocked_until.type)
    blocking = counters.c.key.in_([own_key, ip_key]) & (counters.c.blocked_until > now)
    none_blocked = ~exists().where(blocking)
    own = throttle_counters.reserve_statement(select(own_key).where(none_blocked), "own_")
    ip = throttle_counters.reserve_statement(select(ip_key).where(none_blocked), "ip_")
    own_cte, ip_cte = own.cte("own_reserved"), ip.cte("ip_reserved")
    one = select(literal(1).label("one")).subquery("one")
    return select(
        own_key.label("own_key"),
        select(own_cte.c.count).scalar_subquery(),
        select(own_cte.c.ips).scalar_subquery(),
        exists(select(ip_cte.c.key)),
        select(func.max(counters.c.blocked_until)).where(blocking).scalar_subquery(),
        *account.c,
    ).select_from(one.outerjoin(account, true()))


# Built once: on the hot path SQLAlchemy then finds it in its compiled cache instead of
# building and compiling it per login. Run as a Core statement: no ORM work per login.
_RESERVE = _reserve_statement()


async def reserve_password_attempt(
    session: AsyncSession,
    *,
    login: str,
    keys: ThrottleKeys,
    now: datetime,
) -> Reservation:
    """See `_reserve_statement`: `login` is folded (`accounts.logins.fold`)."""
    params = {"login": login, **keys.params(now)}
    connection = await session.connection()
    row = (await connection.execute(_RESERVE, params)).one()
    own_key, own_count, own_ips, ip_reserved, blocked_until, *account = row
    own = (own_count, list(own_ips or ())) if own_count is not None else None
    return Reservation(account_from_row(account), own_key, own, ip_reserved, blocked_until)


S = TypeVar("S", bound=HasCTE)


def _with_settlement(statement: S) -> S:
    """`statement` WITH the settlement of a right password's reservation: the DELETE of
    the login's (or the device's) counter and the hand-back of the address's. Bound:
    `_settlement_params`."""
    statement = statement.add_cte(throttle_counters.reset_statement().cte("reset"))
    return statement.add_cte(throttle_counters.release_statement("ip_").cte("ip_released"))


def _settlement_params(reservation: Reservation, keys: ThrottleKeys) -> dict[str, object]:
    return {"reset_key": reservation.own_key, "ip_key": keys.ip_key,
            "ip_free": keys.ip_policy.free_failures}  # fmt: skip


@cache
def _open_challenge_statement(messages: int) -> Insert:
    """INSERT the challenge WITH each message's INSERT, the DELETE of the login's (or the
    device's) counter and the hand-back of the address's reservation as CTEs, each built
    by the domain that owns the table.

    One INSERT per message rather than one multi-row INSERT: SQLAlchemy cannot cache the
    compiled form of a multi-row VALUES.
    """
    statement = insert_statement(LoginChallenge, "c_")
    for n in range(messages):
        statement = statement.add_cte(outbox_rows.queue_statement(f"m{n}_").cte(f"queued_{n}"))
    return _with_settlement(statement)


async def open_challenge(
    session: AsyncSession,
    challenge: LoginChallenge,
    messages: Sequence[OutboxMessage],
    *,
    reservation: Reservation,
    keys: ThrottleKeys,
) -> None:
    """Write the challenge and the messages it sends, clear the login's counter and hand
    back the address's reservation, as one statement: all or nothing even in
    autocommit, one round trip."""
    params = row_params(challenge, "c_")
    for n, message in enumerate(messages):
        params.update(outbox_rows.queue_params(message, f"m{n}_"))
    params.update(_settlement_params(reservation, keys))
    statement = _open_challenge_statement(len(messages))
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
    matched: bool  # the typed code is the code sent (the challenge is then used)
    factors: list[str]  # the second steps the challenge accepts
    read: dict[str, tuple[Any, ...]]  # what each `Read` asked for, by factor


@cache
def _spend_attempt_statement(reads: tuple[Read, ...] = ()) -> ReturningUpdate[Any]:
    """Spend one attempt of a live challenge, compare the code and, when it matches, mark
    the challenge used: one statement (bound: `challenge`, `candidates`, `now`,
    `max_attempts`). RETURNING the attempts, the notice, matched, the factors, the
    columns of `reads` (each only for a challenge that accepts its factor, else NULL)
    and the account's row.

    Concurrent guesses wait for the row lock and see what the previous one left, so at
    most `max_attempts` of them are ever compared and one right code signs in once. The
    caller's transaction keeps the row locked until the session is written.
    """
    challenges = table_of(LoginChallenge)
    accounts = table_of(Account)
    now = bindparam("now", type_=challenges.c.consumed_at.type)
    matched = challenges.c.code_hash == any_(bindparam("candidates", type_=ARRAY(LargeBinary)))
    # CASE: PostgreSQL evaluates a strategy's subqueries only for the challenges it serves.
    read = [
        case((literal(r.factor) == any_(challenges.c.factors), column))
        for r in reads
        for column in r.columns
    ]
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
        .returning(
            challenges.c.attempts,
            challenges.c.notice_id,
            matched,
            challenges.c.factors,
            *read,
            *accounts.c,
        )
    )


async def spend_attempt(
    session: AsyncSession,
    challenge_id: uuid.UUID,
    *,
    candidates: list[bytes],
    now: datetime,
    max_attempts: int,
    reads: tuple[Read, ...] = (),
) -> Attempt | None:
    """None when the challenge has no attempt left to spend (unknown, used, expired or
    exhausted: `get` tells which). `reads`: what the strategies need to check the proof
    (`factors.service.reads`), read by the same statement."""
    params = {"challenge": challenge_id, "candidates": candidates, "now": now,
              "max_attempts": max_attempts}  # fmt: skip
    connection = await session.connection()  # Core: no ORM work on the hot path
    statement = _spend_attempt_statement(reads)  # built and compiled once per `reads`
    row = (await connection.execute(statement, params)).one_or_none()
    if row is None:
        return None
    attempts, notice_id, matched, factors, *rest = row
    read: dict[str, tuple[Any, ...]] = {}
    for r in reads:
        taken, rest = tuple(rest[: len(r.columns)]), rest[len(r.columns) :]
        if r.factor in factors:
            read[r.factor] = taken
    found = account_from_row(rest)
    assert found is not None  # joined on the challenge's foreign key
    return Attempt(found, attempts, notice_id, matched, list(factors), read)


@cache
def _finish_login_statement(
    use_challenge: bool = False, messages: int = 0, claim: ReturningUpdate[Any] | None = None
) -> Insert:
    """INSERT the new session WITH its "this wasn't me" link, the confirmation e-mail and
    the cancel of the account's pending "not completed" notices as CTEs, each built by
    the domain that owns the table. Bound: `s_*`, `l_*`, `m_*` (the rows), `account`,
    `own_notice` (the used challenge's notice), `now` and `cancel_at`.

    With `use_challenge`, also the challenge (bound: `challenge`) marked used: a proof
    its attempt statement did not compare, under the row lock that statement took, so
    no one else can have used it meanwhile. With `messages`, as many more messages
    queued (`x{n}_*`), a strategy's (a recovery code's notice). With `claim` (a
    strategy's: the time step spent, the recovery code used; its own bound values), every
    write of this statement happens only when the claim returns a row, and the INSERT
    returns the session's id: under concurrency, one claim and so one session."""
    challenges = table_of(LoginChallenge)
    now = bindparam("now", type_=challenges.c.expires_at.type)
    gate: ColumnElement[bool] = true()
    only_if = None
    if claim is not None:
        claimed = claim.cte("claimed")
        gate = exists(select(literal(1)).select_from(claimed))
        only_if = select(literal(1)).where(gate)
    pending = select(challenges.c.notice_id).where(
        challenges.c.account_id == bindparam("account", type_=challenges.c.account_id.type),
        challenges.c.consumed_at.is_(None),
        challenges.c.notice_id.is_not(None),
        challenges.c.expires_at > now,
        gate,
    )
    own = select(bindparam("own_notice", type_=challenges.c.notice_id.type)).where(gate)
    notices = pending.union_all(own)
    statement = (
        insert_statement(UserSession, "s_", only_if=only_if)
        .add_cte(insert_statement(ActionLink, "l_", only_if=only_if).cte("not_me_link"))
        .add_cte(outbox_rows.queue_statement("m_", only_if=only_if).cte("confirmation"))
        .add_cte(outbox_rows.cancel_statement(notices).cte("cancelled_notices"))
    )
    if use_challenge:
        used = (
            update(challenges)
            .where(
                challenges.c.id == bindparam("challenge", type_=challenges.c.id.type),
                challenges.c.consumed_at.is_(None),
                gate,
            )
            .values(consumed_at=now)
        )
        statement = statement.add_cte(used.cte("used_challenge"))
    for n in range(messages):
        also = outbox_rows.queue_statement(f"x{n}_", only_if=only_if)
        statement = statement.add_cte(also.cte(f"also_{n}"))
    if claim is not None:
        statement = statement.returning(table_of(UserSession).c.id)
    return statement


async def finish_login(
    session: AsyncSession,
    *,
    user_session: UserSession,
    link: ActionLink,
    confirmation: OutboxMessage,
    own_notice: uuid.UUID | None,
    now: datetime,
    use_challenge: uuid.UUID | None = None,
    messages: Sequence[OutboxMessage] = (),
    claim: ReturningUpdate[Any] | None = None,
    claim_params: Mapping[str, object] | None = None,
) -> bool:
    """Write the session, its link and its e-mail, and cancel the pending notices; use
    the challenge `use_challenge` and queue `messages` too; in one round trip. With a
    `claim` (bound by `claim_params`), all of it only when the claim holds: whether it
    did (without one, True)."""
    params = {
        **(claim_params or {}),
        **row_params(user_session, "s_"),
        **row_params(link, "l_"),
        **outbox_rows.queue_params(confirmation, "m_"),
        "account": user_session.account_id,
        "own_notice": own_notice,
        "now": now,
        "cancel_at": now,
    }
    if use_challenge is not None:
        params["challenge"] = use_challenge
    for n, message in enumerate(messages):
        params.update(outbox_rows.queue_params(message, f"x{n}_"))
    statement = _finish_login_statement(use_challenge is not None, len(messages), claim)
    connection = await session.connection()
    result = await connection.execute(statement, params)
    return claim is None or result.first() is not None


_HAND_BACK = throttle_counters.release_statement("own_").add_cte(
    throttle_counters.release_statement("ip_").cte("ip_released")
)


async def hand_back(session: AsyncSession, reservation: Reservation, keys: ThrottleKeys) -> None:
    """Undo a reservation whose password was never judged wrong (the hashing pool was
    full, a concurrent back-off refused the other key, or the password was right but
    cannot be used yet), in one round trip."""
    params = {
        "own_key": reservation.own_key if reservation.own is not None else None,
        "own_free": keys.own_policy.free_failures,
        "ip_key": keys.ip_key if reservation.ip_reserved else None,
        "ip_free": keys.ip_policy.free_failures,
    }
    await (await session.connection()).execute(_HAND_BACK, params)


_SETTLE = _with_settlement(select(literal(1)))  # the settlement alone


async def settle_success(
    session: AsyncSession, reservation: Reservation, keys: ThrottleKeys
) -> None:
    """A right password: clear the login's (or the device's) counter and hand back the
    address's reservation, in one round trip."""
    await (await session.connection()).execute(_SETTLE, _settlement_params(reservation, keys))
