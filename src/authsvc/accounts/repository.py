"""Queries on accounts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.accounts import logins
from authsvc.accounts.models import Account

ACCOUNT_COLUMNS = [column.key for column in Account.__table__.columns]


def account_from_row(values: Sequence[Any]) -> Account | None:
    """An Account (attached to no session) from its columns in table order, as a Core
    statement returns them, or None when an outer join found none."""
    fields = dict(zip(ACCOUNT_COLUMNS, values, strict=True))
    return Account(**fields) if fields["id"] is not None else None


def login_matches(folded: str | BindParameter[str]) -> ColumnElement[bool]:
    """The account whose login folds to `folded` (`logins.fold`, never a raw typed
    login): exactly the expression of the unique index uq_accounts_login_lower, which it
    uses. Under the "C" collation lower() folds A-Z only, as `logins.fold` does."""
    return func.lower(Account.login.collate("C")) == folded


async def get_by_login(session: AsyncSession, login: str) -> Account | None:
    """The account of a typed login, or None (also for what can never be a login)."""
    folded = logins.fold(login)
    if folded is None:
        return None
    query = select(Account).where(login_matches(folded))
    return (await session.execute(query)).scalar_one_or_none()


async def get_by_id(session: AsyncSession, account_id: uuid.UUID) -> Account | None:
    return await session.get(Account, account_id)


async def list_all(session: AsyncSession) -> Sequence[Account]:
    return (await session.execute(select(Account).order_by(Account.created_at))).scalars().all()


async def set_password_hash(
    session: AsyncSession, account_id: uuid.UUID, password_hash: str
) -> None:
    await session.execute(
        update(Account).where(Account.id == account_id).values(password_hash=password_hash)
    )


async def replace_password(
    session: AsyncSession, account_id: uuid.UUID, password_hash: str, *, now: datetime
) -> None:
    """A new password chosen by the customer: it also lifts a forced reset, and the
    browsers trusted with the old one are trusted no more (the credential epoch)."""
    await session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(
            password_hash=password_hash,
            password_reset_required=False,
            credential_epoch=Account.credential_epoch + 1,
            updated_at=now,
        )
    )


async def require_password_reset(
    session: AsyncSession, account_id: uuid.UUID, *, now: datetime
) -> None:
    await session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(
            password_reset_required=True,
            credential_epoch=Account.credential_epoch + 1,
            updated_at=now,
        )
    )


async def set_second_step(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    preferred_factor: str | None,
    now: datetime,
    codes_fallback: bool | None = None,
    channel: str | None = None,
) -> None:
    """The second step asked first (None: the code channel), and when given, whether
    codes stay a fallback and the channel codes go to."""
    values: dict[str, object] = {"preferred_factor": preferred_factor, "updated_at": now}
    if codes_fallback is not None:
        values["codes_fallback"] = codes_fallback
    if channel is not None:
        values["channel"] = channel
    await session.execute(update(Account).where(Account.id == account_id).values(**values))


async def set_email(
    session: AsyncSession, account_id: uuid.UUID, email: str, *, now: datetime
) -> None:
    """A new e-mail address, verified by the code sent to it (contacts.service)."""
    await session.execute(
        update(Account).where(Account.id == account_id).values(email=email, updated_at=now)
    )


async def set_phone(
    session: AsyncSession, account_id: uuid.UUID, phone: str, *, now: datetime
) -> None:
    """A new phone number, verified by the code texted to it; a number set aside as
    untextable (`phone_invalid`, migration 0009) is replaced by it."""
    await session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(phone=phone, phone_invalid=None, updated_at=now)
    )


async def restore_email(
    session: AsyncSession, account_id: uuid.UUID, *, expected: str, restored: str, now: datetime
) -> bool:
    """Put back an e-mail address a change replaced, while the address is still the one
    that change set; True when it was."""
    statement = (
        update(Account)
        .where(Account.id == account_id, Account.email == expected)
        .values(email=restored, updated_at=now)
        .returning(Account.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def restore_phone(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    expected: str,
    restored: str | None,
    now: datetime,
) -> bool:
    """Put back the phone number a change replaced (None: the account had none, so codes
    go by e-mail again), while the number is still the one that change set."""
    values: dict[str, object] = {"phone": restored, "updated_at": now}
    if restored is None:
        values["channel"] = "email"
        values["preferred_factor"] = case(
            (Account.preferred_factor == "sms", None), else_=Account.preferred_factor
        )
    statement = (
        update(Account)
        .where(Account.id == account_id, Account.phone == expected)
        .values(**values)
        .returning(Account.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None
