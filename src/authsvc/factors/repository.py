"""Queries on authenticator apps, recovery codes and passkeys. What must hold under concurrency
(a time step spent once, a recovery code used once) is one statement."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Column,
    LargeBinary,
    String,
    Text,
    Uuid,
    any_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    table,
    update,
)
from sqlalchemy import DateTime as SqlDateTime
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningUpdate

from authsvc.accounts.models import Account
from authsvc.core.db import table_of
from authsvc.factors.models import PasskeyChallenge, PasskeyCredential, RecoveryCode, TotpFactor
from authsvc.factors.rules import RECOVERY, Enrolled
from authsvc.factors.strategy import Read


@dataclass(frozen=True)
class RecoverySet:
    remaining: int
    created_at: datetime


async def enrolled(session: AsyncSession, account_id: uuid.UUID) -> Enrolled:
    """The account's confirmed app, unused recovery codes and passkeys, in one round trip."""
    totp = select(func.count()).where(
        TotpFactor.account_id == account_id, TotpFactor.confirmed_at.is_not(None)
    )
    codes = select(func.count()).where(
        RecoveryCode.account_id == account_id, RecoveryCode.used_at.is_(None)
    )
    passkeys = select(func.count()).where(PasskeyCredential.account_id == account_id)
    subqueries = (totp.scalar_subquery(), codes.scalar_subquery(), passkeys.scalar_subquery())
    row = (await session.execute(select(*subqueries))).one()
    return Enrolled(totp=row[0] > 0, recovery_codes=row[1], passkeys=row[2])


# --- the authenticator app ------------------------------------------------------------


def _totp_read() -> Read:
    """The account's confirmed app (its id, the associated data of its sealed secret, and
    the sealed secret), read by the login's attempt statement: a code of the app is then
    checked with no read of its own."""
    factors = table_of(TotpFactor)
    confirmed = select(factors.c.id).where(
        factors.c.account_id == table_of(Account).c.id, factors.c.confirmed_at.is_not(None)
    )
    columns = (factors.c.id, factors.c.secret_sealed)
    return Read("totp", tuple(confirmed.with_only_columns(c).scalar_subquery() for c in columns))


TOTP_READ = _totp_read()


async def get_totp(session: AsyncSession, account_id: uuid.UUID) -> TotpFactor | None:
    query = select(TotpFactor).where(TotpFactor.account_id == account_id)
    return (await session.execute(query)).scalar_one_or_none()


async def active_totp(session: AsyncSession, account_id: uuid.UUID) -> TotpFactor | None:
    query = select(TotpFactor).where(
        TotpFactor.account_id == account_id, TotpFactor.confirmed_at.is_not(None)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def replace_pending_totp(session: AsyncSession, factor: TotpFactor) -> bool:
    """Write a pending app in place of a pending one; False (nothing written) when the
    account has a confirmed app. One statement, so two enrolments race safely."""
    table = table_of(TotpFactor)
    statement = (
        postgres_insert(TotpFactor)
        .values(
            id=factor.id, account_id=factor.account_id, secret_sealed=factor.secret_sealed,
            created_at=factor.created_at, expires_at=factor.expires_at, last_step=0,
        )
        .on_conflict_do_update(
            index_elements=[TotpFactor.account_id],
            set_={
                "id": factor.id, "secret_sealed": factor.secret_sealed,
                "created_at": factor.created_at, "expires_at": factor.expires_at,
                "last_step": 0, "last_used_at": None,
            },
            where=table.c.confirmed_at.is_(None),
        )
        .returning(TotpFactor.id)
    )  # fmt: skip
    return (await session.execute(statement)).first() is not None


def _spend_step_statement(*, pending: bool) -> ReturningUpdate[Any]:
    """Accept time step `step` of the account's app (bound: `account`, `step`, `now`, and
    `pending_id` when `pending`): a row for exactly one caller, and never for a step at or
    below one accepted before (the replay rule is this WHERE).

    When `pending`, it is the enrolment's first code: that pending, unexpired app is
    confirmed by the same statement."""
    factors = table_of(TotpFactor)
    now = bindparam("now", type_=factors.c.last_used_at.type)
    step = bindparam("step", type_=factors.c.last_step.type)
    conditions = [
        factors.c.account_id == bindparam("account", type_=factors.c.account_id.type),
        factors.c.last_step < step,
    ]
    values: dict[str, Any] = {"last_step": step, "last_used_at": now}
    if pending:
        conditions += [
            factors.c.id == bindparam("pending_id", type_=factors.c.id.type),
            factors.c.confirmed_at.is_(None),
            factors.c.expires_at > now,
        ]
        values["confirmed_at"] = now
    else:
        conditions.append(factors.c.confirmed_at.is_not(None))
    return update(factors).where(*conditions).values(values).returning(factors.c.id)


# Built once, so compiled once. The login runs the confirmed app's as its claim
# (strategy.Accepted), inside the statement that writes the session.
_SPEND_STEP = {pending: _spend_step_statement(pending=pending) for pending in (False, True)}
SPEND_STEP = _SPEND_STEP[False]


def spend_step_params(account_id: uuid.UUID, step: int, *, now: datetime) -> dict[str, object]:
    return {"account": account_id, "step": step, "now": now}


async def spend_step(
    session: AsyncSession,
    account_id: uuid.UUID,
    step: int,
    *,
    now: datetime,
    pending_id: uuid.UUID | None = None,
) -> bool:
    """See `_spend_step_statement`: True for exactly one caller."""
    params = spend_step_params(account_id, step, now=now)
    if pending_id is not None:
        params["pending_id"] = pending_id
    statement = _SPEND_STEP[pending_id is not None]
    return (await (await session.connection()).execute(statement, params)).first() is not None


async def delete_totp(session: AsyncSession, account_id: uuid.UUID) -> bool:
    statement = delete(TotpFactor).where(TotpFactor.account_id == account_id)
    return (await session.execute(statement.returning(TotpFactor.id))).first() is not None


# --- recovery codes -------------------------------------------------------------------


async def replace_recovery_codes(
    session: AsyncSession, account_id: uuid.UUID, hashes: Sequence[bytes], *, now: datetime
) -> None:
    """The account's new set: the old one stops working in the same transaction."""
    await delete_recovery_codes(session, account_id)
    session.add_all(
        RecoveryCode(id=uuid.uuid4(), account_id=account_id, code_hash=h, created_at=now)
        for h in hashes
    )
    await session.flush()


async def delete_recovery_codes(session: AsyncSession, account_id: uuid.UUID) -> None:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account_id))


def _use_recovery_code_statement() -> ReturningUpdate[Any]:
    """Use the unused code of the account whose HMAC is one of `candidates` (bound:
    `account`, `candidates`, `now`): a row for exactly one of concurrent callers
    (`used_at IS NULL` is checked by the statement that sets it). The login runs it as
    its claim (strategy.Accepted), inside the statement that writes the session."""
    codes = table_of(RecoveryCode)
    return (
        update(codes)
        .where(
            codes.c.account_id == bindparam("account", type_=codes.c.account_id.type),
            codes.c.code_hash == any_(bindparam("candidates", type_=ARRAY(LargeBinary))),
            codes.c.used_at.is_(None),
        )
        .values(used_at=bindparam("now", type_=codes.c.used_at.type))
        .returning(codes.c.id)
    )


USE_RECOVERY_CODE = _use_recovery_code_statement()  # built once, so compiled once


def use_recovery_code_params(
    account_id: uuid.UUID, candidates: list[bytes], *, now: datetime
) -> dict[str, object]:
    return {"account": account_id, "candidates": candidates, "now": now}


def _recovery_read() -> Read:
    """How many unused codes the account has, read by the login's attempt statement: the
    notice of a use says how many are left."""
    codes = table_of(RecoveryCode)
    unused = select(func.count()).where(
        codes.c.account_id == table_of(Account).c.id, codes.c.used_at.is_(None)
    )
    return Read(RECOVERY, (unused.scalar_subquery(),))


RECOVERY_READ = _recovery_read()


async def recovery_set(session: AsyncSession, account_id: uuid.UUID) -> RecoverySet | None:
    query = select(
        func.count().filter(RecoveryCode.used_at.is_(None)), func.min(RecoveryCode.created_at)
    ).where(RecoveryCode.account_id == account_id)
    remaining, created_at = (await session.execute(query)).one()
    return RecoverySet(remaining, created_at) if created_at is not None else None


# --- passkeys -------------------------------------------------------------------------


async def passkeys(session: AsyncSession, account_id: uuid.UUID) -> list[PasskeyCredential]:
    query = (
        select(PasskeyCredential)
        .where(PasskeyCredential.account_id == account_id)
        .order_by(PasskeyCredential.created_at, PasskeyCredential.id)
    )
    return list((await session.execute(query)).scalars())


async def passkey_by_credential_id(
    session: AsyncSession, credential_id: bytes
) -> PasskeyCredential | None:
    query = select(PasskeyCredential).where(PasskeyCredential.credential_id == credential_id)
    return (await session.execute(query)).scalar_one_or_none()


async def lock_passkeys(session: AsyncSession, account_id: uuid.UUID) -> None:
    """Hold the account's passkey list until the transaction ends, so that two
    registrations count one after the other (at most `rules.MAX_PASSKEYS`)."""
    key = func.hashtextextended("passkeys:" + str(account_id), 0)
    await session.execute(select(func.pg_advisory_xact_lock(key)))


async def add_passkey(session: AsyncSession, passkey: PasskeyCredential) -> bool:
    """Store a new passkey; False (nothing written) when its credential id is taken."""
    table = table_of(PasskeyCredential)
    statement = (
        postgres_insert(table)
        .values(
            id=passkey.id, account_id=passkey.account_id, credential_id=passkey.credential_id,
            public_key=passkey.public_key, sign_count=passkey.sign_count, name=passkey.name,
            transports=passkey.transports, backed_up=passkey.backed_up,
            created_at=passkey.created_at,
        )
        .on_conflict_do_nothing(index_elements=[table.c.credential_id])
        .returning(table.c.id)
    )  # fmt: skip
    return (await session.execute(statement)).first() is not None


async def rename_passkey(
    session: AsyncSession, account_id: uuid.UUID, passkey_id: uuid.UUID, name: str
) -> PasskeyCredential | None:
    statement = (
        update(PasskeyCredential)
        .where(PasskeyCredential.id == passkey_id, PasskeyCredential.account_id == account_id)
        .values(name=name)
        .returning(PasskeyCredential)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def delete_passkey(
    session: AsyncSession, account_id: uuid.UUID, passkey_id: uuid.UUID
) -> str | None:
    """Remove one of the account's passkeys; its name, or None when there was none."""
    statement = (
        delete(PasskeyCredential)
        .where(PasskeyCredential.id == passkey_id, PasskeyCredential.account_id == account_id)
        .returning(PasskeyCredential.name)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def delete_passkeys(session: AsyncSession, account_id: uuid.UUID) -> None:
    await session.execute(
        delete(PasskeyCredential).where(PasskeyCredential.account_id == account_id)
    )


async def record_passkey_use(
    session: AsyncSession,
    passkey_id: uuid.UUID,
    *,
    sign_count: int,
    backed_up: bool,
    now: datetime,
) -> bool:
    """Store the counter of an accepted assertion: True unless the stored counter moved
    to or past it meanwhile (a concurrent assertion of a copy); the counter rule is this
    WHERE, so two assertions with one counter value never both pass."""
    statement = (
        update(PasskeyCredential)
        .where(
            PasskeyCredential.id == passkey_id,
            or_(
                PasskeyCredential.sign_count < sign_count,
                (PasskeyCredential.sign_count == 0) & (sign_count == 0),
            ),
        )
        .values(sign_count=sign_count, backed_up=backed_up, last_used_at=now)
        .returning(PasskeyCredential.id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).first() is not None


async def add_passkey_challenge(session: AsyncSession, challenge: PasskeyChallenge) -> None:
    await session.execute(insert(table_of(PasskeyChallenge)).values(
        id=challenge.id, challenge=challenge.challenge, flow=challenge.flow,
        bound_to=challenge.bound_to, created_at=challenge.created_at,
        expires_at=challenge.expires_at,
    ))  # fmt: skip


async def find_passkey_challenge(
    session: AsyncSession, challenge: bytes, *, flow: str, bound_to: uuid.UUID
) -> PasskeyChallenge | None:
    """The challenge `challenge` when it was issued for this flow and this subject."""
    query = select(PasskeyChallenge).where(
        PasskeyChallenge.challenge == challenge,
        PasskeyChallenge.flow == flow,
        PasskeyChallenge.bound_to == bound_to,
    )
    return (await session.execute(query)).scalar_one_or_none()


async def consume_passkey_challenge(
    session: AsyncSession, challenge_id: uuid.UUID, *, now: datetime
) -> bool:
    """Use the challenge: True for exactly one of concurrent callers, and only before it
    expires (the single-use rule is this statement)."""
    statement = (
        delete(PasskeyChallenge)
        .where(PasskeyChallenge.id == challenge_id, PasskeyChallenge.expires_at > now)
        .returning(PasskeyChallenge.id)
    )
    return (await session.execute(statement)).first() is not None


# protection's security_events, written here for the one event this package detects (a
# passkey's counter going back): protection sits above factors in the layers.
_SECURITY_EVENTS = table(
    "security_events",
    Column("id", Uuid()),
    Column("account_id", Uuid()),
    Column("kind", String(32)),
    Column("created_at", SqlDateTime(timezone=True)),
    Column("ip", String(45)),
    Column("user_agent", Text()),
    Column("detail", Text()),
)


async def record_security_event(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    kind: str,
    ip: str,
    user_agent: str,
    detail: str,
    now: datetime,
) -> None:
    await session.execute(insert(_SECURITY_EVENTS).values(
        id=uuid.uuid4(), account_id=account_id, kind=kind, created_at=now, ip=ip,
        user_agent=user_agent[:512], detail=detail[:1000],
    ))  # fmt: skip
