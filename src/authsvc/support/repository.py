"""Queries on support keys and the verification audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Select,
    String,
    Text,
    Uuid,
    bindparam,
    case,
    cast,
    insert,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.accounts.models import Account
from authsvc.accounts.repository import account_from_row, login_matches
from authsvc.auth_codes import repository as auth_codes
from authsvc.core.db import table_of
from authsvc.delivery import repository as outbox_rows
from authsvc.delivery.models import OutboxMessage
from authsvc.support.models import SupportKey, Verification
from authsvc.throttling import repository as throttling

# A support key's call counter: this prefix and the key's id.
RATE_KEY_PREFIX = "rate:support-key:"


async def insert_key(session: AsyncSession, key: SupportKey) -> None:
    session.add(key)
    await session.flush()


async def list_keys(session: AsyncSession) -> Sequence[SupportKey]:
    return (
        (await session.execute(select(SupportKey).order_by(SupportKey.created_at))).scalars().all()
    )


async def revoke_key(session: AsyncSession, name: str, *, now: datetime) -> SupportKey | None:
    """Revoke by name; an already revoked key keeps its first revocation time."""
    key = (
        await session.execute(select(SupportKey).where(SupportKey.name == name).with_for_update())
    ).scalar_one_or_none()
    if key is not None and key.revoked_at is None:
        key.revoked_at = now
        await session.flush()
    return key


@dataclass(frozen=True)
class LiveKey:
    """A support key that is not revoked: what a call needs of it."""

    id: uuid.UUID
    name: str
    scopes: list[str]


@dataclass(frozen=True)
class Admission:
    """A live key's call, counted against its rate, and the customer it names (if any)."""

    key: LiveKey
    calls: int  # in the rate window, this one included
    window_started_at: datetime
    account: Account | None  # None: no account goes by that id or login


def _admit_statement() -> Select[Any]:
    """The live key with this digest, one more call counted on its rate, and the named
    customer, in one round trip (no row: no live key). Bound: `digest`, `customer`,
    `customer_id` (the customer as a UUID, or None), `now`, `window_start`."""
    keys = table_of(SupportKey)
    accounts = table_of(Account)
    live_key = (
        select(keys.c.id, keys.c.name, keys.c.scopes)
        .where(keys.c.key_digest == bindparam("digest"), keys.c.revoked_at.is_(None))
        .cte("live_key")
    )
    # The counter's name: RATE_KEY_PREFIX and the key's id.
    rate = throttling.hit_statement(
        select(literal(RATE_KEY_PREFIX) + cast(live_key.c.id, Text))
    ).cte("rate")
    by_id = accounts.c.id == bindparam("customer_id", type_=Uuid)
    customer = (
        select(*accounts.c)
        .where(or_(by_id, login_matches(bindparam("customer", type_=String))))
        # An id wins over a login that looks like one (NULL for a customer that is no
        # UUID sorts first, but then only the login can match).
        .order_by(by_id.desc())
        .limit(1)
        .cte("customer")
    )
    return select(
        live_key.c.id, live_key.c.name, live_key.c.scopes, rate.c.count,
        rate.c.window_started_at, *customer.c,
    ).select_from(live_key.join(rate, true()).outerjoin(customer, true()))  # fmt: skip


_ADMIT = _admit_statement()  # built once, so compiled once


async def admit(
    session: AsyncSession,
    *,
    digest: bytes,
    customer: str,
    customer_id: uuid.UUID | None,
    now: datetime,
    window_start: datetime,
) -> Admission | None:
    connection = await session.connection()  # Core: no ORM work on the hot path
    params = {"digest": digest, "customer": customer, "customer_id": customer_id, "now": now,
              "window_start": window_start}  # fmt: skip
    row = (await connection.execute(_ADMIT, params)).one_or_none()
    if row is None:
        return None
    key_id, name, scopes, calls, window_started_at, *account = row
    key = LiveKey(key_id, name, scopes)
    return Admission(key, calls, window_started_at, account_from_row(account))


@dataclass(frozen=True)
class Attempt:
    """What an attempt against the live code found (see attempt_statement)."""

    code_id: uuid.UUID
    account_id: uuid.UUID
    matched: bool
    locked: bool  # this mismatch was the last the code could take
    verifications: int
    expires_at: datetime


def _attempt_statement(*, first_check_notice: bool) -> Select[Any]:
    """auth_codes' attempt and this call's audit row in one round trip: the row says
    valid or mismatch as the compare found. No row (and no audit row): no live code;
    the caller then records why. Bound: those of attempt_statement and the audit's
    `audit_at`, `audit_key`, `audit_purpose`, `audit_ip`; with `first_check_notice`, the
    `n_*` of a message queued only when this was the code's first valid check, so the
    customer's notice is as certain as the check itself."""
    attempt = auth_codes.attempt_statement().cte("attempt")
    audit = (
        insert(table_of(Verification))
        .from_select(
            [
                "verified_at",
                "support_key_id",
                "account_id",
                "auth_code_id",
                "result",
                "purpose",
                "client_ip",
            ],
            select(
                bindparam("audit_at", type_=DateTime(timezone=True)),
                bindparam("audit_key", type_=Uuid),
                attempt.c.account_id,
                attempt.c.id,
                case((attempt.c.matched, "valid"), else_="mismatch"),
                bindparam("audit_purpose", type_=String),
                bindparam("audit_ip", type_=String),
            ),
        )
        .cte("audit")
    )
    statement = select(
        attempt.c.id, attempt.c.account_id, attempt.c.matched, attempt.c.locked,
        attempt.c.verifications, attempt.c.expires_at,
    ).add_cte(audit)  # fmt: skip
    if first_check_notice:
        first_valid = (
            select(attempt.c.id)
            .select_from(attempt)
            .where(attempt.c.matched, attempt.c.verifications == 1)
        )
        notice = outbox_rows.queue_statement("n_", only_if=first_valid).cte("first_check_notice")
        statement = statement.add_cte(notice)
    return statement


# Built once each, so compiled once.
_ATTEMPT = _attempt_statement(first_check_notice=False)
_ATTEMPT_WITH_NOTICE = _attempt_statement(first_check_notice=True)


async def attempt_and_record(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    candidates: list[bytes],
    now: datetime,
    max_mismatches: int,
    support_key_id: uuid.UUID,
    purpose: str | None,
    client_ip: str,
    first_check_notice: OutboxMessage | None,
) -> Attempt | None:
    connection = await session.connection()
    params = {
        "attempt_account": account_id, "candidates": candidates, "now": now,
        "max_mismatches": max_mismatches, "audit_at": now, "audit_key": support_key_id,
        "audit_purpose": purpose, "audit_ip": client_ip,
    }  # fmt: skip
    statement = _ATTEMPT
    if first_check_notice is not None:
        params.update(outbox_rows.queue_params(first_check_notice, "n_"))
        statement = _ATTEMPT_WITH_NOTICE
    row = (await connection.execute(statement, params)).one_or_none()
    return None if row is None else Attempt(*row)


async def record_verification(
    session: AsyncSession,
    *,
    verified_at: datetime,
    support_key_id: uuid.UUID,
    account_id: uuid.UUID | None,
    auth_code_id: uuid.UUID | None,
    result: str,
    purpose: str | None,
    client_ip: str,
) -> None:
    await session.execute(
        insert(Verification).values(
            verified_at=verified_at,
            support_key_id=support_key_id,
            account_id=account_id,
            auth_code_id=auth_code_id,
            result=result,
            purpose=purpose,
            client_ip=client_ip,
        )
    )


@dataclass(frozen=True)
class HistoryEntry:
    verified_at: datetime
    result: str
    purpose: str | None
    support_client: str


async def history(
    session: AsyncSession, account_id: uuid.UUID, *, limit: int
) -> list[HistoryEntry]:
    query = (
        select(Verification.verified_at, Verification.result, Verification.purpose, SupportKey.name)
        .outerjoin(SupportKey, SupportKey.id == Verification.support_key_id)
        .where(Verification.account_id == account_id)
        .order_by(Verification.verified_at.desc(), Verification.id.desc())
        .limit(limit)
    )
    return [
        HistoryEntry(verified_at=at, result=result, purpose=purpose, support_client=name or "?")
        for at, result, purpose, name in (await session.execute(query)).all()
    ]
