"""Account rules: who may have an account, and with what contact data and password."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.accounts import logins, phones, repository
from authsvc.accounts.errors import (
    AccountNotFound,
    InvalidChannel,
    InvalidEmail,
    InvalidLocale,
    InvalidLogin,
    LoginTaken,
)
from authsvc.accounts.models import Account

CHANNELS = ("email", "sms")
LOCALES = ("pl", "en")


def normalise_email(email: str) -> str:
    try:
        return validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise InvalidEmail(
            f"{email!r} is not a valid e-mail address: {error}", reason="invalid"
        ) from None


def normalise_phone(phone: str, countries: Collection[str]) -> str:
    """The number in E.164 (`+48601234567`) when codes can be texted to it (a mobile of
    one of `countries`, `AUTHSVC_SMS_COUNTRIES`), else `422 invalid_phone` with a reason."""
    return phones.textable(phone, countries).e164


async def create_account(
    session: AsyncSession,
    *,
    login: str,
    email: str,
    password_hash: str,
    now: datetime,
    sms_countries: Collection[str],
    phone: str | None = None,
    channel: str = "email",
    locale: str = "pl",
) -> Account:
    """Insert a validated account. The caller hashes the checked password beforehand."""
    validate_contact(login=login, channel=channel, locale=locale, phone=phone)
    account = Account(
        id=uuid.uuid4(),
        login=login,
        email=normalise_email(email),
        phone=normalise_phone(phone, sms_countries) if phone else None,
        channel=channel,
        locale=locale,
        password_hash=password_hash,
        disabled=False,
        created_at=now,
        updated_at=now,
    )
    try:
        # A savepoint keeps the caller's transaction usable after a duplicate login.
        async with session.begin_nested():
            session.add(account)
    except IntegrityError:
        raise LoginTaken(f"An account with login {login!r} already exists.") from None
    return account


def validate_contact(*, login: str, channel: str, locale: str, phone: str | None) -> None:
    if not logins.is_valid(login):
        raise InvalidLogin()
    if channel not in CHANNELS:
        raise InvalidChannel(f"Channel must be one of {', '.join(CHANNELS)}.")
    if channel == "sms" and not phone:
        raise InvalidChannel("The sms channel needs a phone number.")
    if locale not in LOCALES:
        raise InvalidLocale(f"Locale must be one of {', '.join(LOCALES)}.")


async def set_disabled(
    session: AsyncSession, login: str, *, disabled: bool, now: datetime
) -> Account:
    account = await repository.get_by_login(session, login)
    if account is None:
        raise AccountNotFound(f"No account with login {login!r}.")
    account.disabled = disabled
    account.updated_at = now
    await session.flush()
    return account


async def list_accounts(session: AsyncSession) -> Sequence[Account]:
    return await repository.list_all(session)
