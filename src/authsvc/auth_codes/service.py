"""Authorization code rules: one live code per account, an hour long, reusable, 5 mismatches.

The code is a support-identity secret, not a login factor: it is signed under its own
purpose and kept in its own table, so `/login/verify` never accepts it and a login OTP
never verifies here.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.accounts import repository as accounts
from authsvc.accounts.models import Account
from authsvc.auth_codes import repository, rules
from authsvc.auth_codes.models import AuthCode
from authsvc.auth_codes.rules import Reason
from authsvc.context import ServiceContext
from authsvc.core.codes import typed_code_matches
from authsvc.core.crypto import Keyring
from authsvc.delivery import outbox
from authsvc.delivery.notify import account_message, time_params
from authsvc.links import service as links
from authsvc.login.service import Client, reauthenticate
from authsvc.ops.events import auth_event
from authsvc.throttling.errors import TooManyAttempts

PURPOSE = "auth-code"
# The account id the statements run with for a customer that does not exist or may not
# verify: the same statements as for a customer without a code, so the answer and about
# the time are the same.
NOBODY = uuid.UUID(int=0)

Outcome = Literal["valid"] | Reason


@dataclass(frozen=True)
class NewCode:
    code: str  # shown to the customer once, never stored
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Customer:
    id: uuid.UUID
    login: str


@dataclass(frozen=True)
class Check:
    result: Outcome
    customer: Customer | None = None  # None when no account goes by that name or id
    code_id: uuid.UUID | None = None
    expires_at: datetime | None = None  # of the code, when valid
    first_valid: bool = False  # the code's first valid check (the customer is told)


def _mac(keyring: Keyring, account_id: uuid.UUID, code: str) -> bytes:
    return keyring.sign(PURPOSE, str(account_id), code)


async def generate(
    session: AsyncSession,
    ctx: ServiceContext,
    *,
    account: Account,
    password: str,
    client: Client,
) -> NewCode:
    """Re-check the password, replace any earlier code, and tell the customer by e-mail.

    At most `auth_code_generation_limit` codes per window: checked before the password, so
    a flood of requests buys no argon2 time. Wrong passwords count toward the password
    throttling instead, as at the login.
    """
    settings = ctx.settings
    # Serialises this account's generations, so the count below is exact under races.
    await repository.lock_generation(session, account.id)
    now = ctx.clock.now()
    since = now - settings.auth_code_generation_window
    generated, first = await repository.generated_since(session, account.id, since)
    if wait := rules.generation_wait(generated, first, settings=settings, now=now):
        raise TooManyAttempts.over_rate(wait)
    await reauthenticate(session, ctx, account=account, password=password, client=client)

    now = ctx.clock.now()
    await repository.revoke_active(session, account.id, now=now, reason="replaced")
    code = ctx.codes()
    record = AuthCode(
        id=uuid.uuid4(),
        account_id=account.id,
        code_mac=_mac(ctx.keyring, account.id, code),
        created_at=now,
        expires_at=now + settings.auth_code_ttl,
        mismatches=0,
        verifications=0,
    )
    await repository.insert(session, record)
    await _notify_generated(session, ctx, account=account, record=record, client_ip=client.ip)
    auth_event("auth_code_generated", outcome="success", ip=client.ip, account=account.id)
    return NewCode(code=code, created_at=record.created_at, expires_at=record.expires_at)


async def _notify_generated(
    session: AsyncSession,
    ctx: ServiceContext,
    *,
    account: Account,
    record: AuthCode,
    client_ip: str,
) -> None:
    timezone = ctx.settings.timezone
    not_me = links.issue(
        ctx.keyring, ctx.settings, account_id=account.id, subject_kind="auth_code",
        subject_id=record.id, now=record.created_at,
    )  # fmt: skip
    await links.add(session, not_me)
    message = account_message(
        keyring=ctx.keyring,
        account=account,
        template="auth_code_generated",
        params={
            "login": account.login,
            **time_params(record.created_at, timezone),
            **time_params(record.expires_at, timezone, prefix="expires"),
            "ip": client_ip,
            "not_me_url": not_me.url,
        },
        now=record.created_at,
        secret_params=("not_me_url",),
    )
    await outbox.enqueue(session, message)


async def current(
    session: AsyncSession, *, account_id: uuid.UUID, now: datetime
) -> AuthCode | None:
    """The live code of the account (its record; the code itself is not kept)."""
    return await repository.get_live(session, account_id, now=now)


async def revoke(session: AsyncSession, *, account_id: uuid.UUID, now: datetime) -> None:
    if await repository.revoke_active(session, account_id, now=now, reason="revoked"):
        auth_event("auth_code_revoked", outcome="success", account=account_id)


async def find_customer(session: AsyncSession, customer: str) -> Account | None:
    """By account id or by login (any case); an id wins over a login that looks like one."""
    account_id = _as_uuid(customer)
    if account_id is not None:
        found = await accounts.get_by_id(session, account_id)
        if found is not None:
            return found
    return await accounts.get_by_login(session, customer)


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def check(session: AsyncSession, ctx: ServiceContext, *, customer: str, code: str) -> Check:
    """Compare `code` with the customer's live code, counting the attempt first.

    A malformed code counts as a mismatch (it is a wrong guess like any other).
    """
    now = ctx.clock.now()
    max_mismatches = ctx.settings.auth_code_max_mismatches
    by_login = _as_uuid(customer) is None
    account: Account | None = None
    if by_login:
        # The usual case: find the account and count the attempt in one statement.
        attempt = await repository.count_attempt(
            session, login=customer, now=now, max_mismatches=max_mismatches
        )
    else:
        account = await find_customer(session, customer)
        attempt = await repository.count_attempt(
            session, account_id=account.id if account else NOBODY, now=now,
            max_mismatches=max_mismatches,
        )  # fmt: skip
    if attempt is None:
        if by_login:
            account = await find_customer(session, customer)
        return await _without_live_code(session, account)

    found = Customer(id=attempt.account_id, login=attempt.login)
    if _code_matches(ctx, found.id, code, attempt.code_mac):
        verifications = await repository.record_match(session, attempt.id)
        return Check(
            "valid", customer=found, code_id=attempt.id, expires_at=attempt.expires_at,
            first_valid=verifications == 1,
        )  # fmt: skip
    if rules.locks_now(attempt.mismatches, max_mismatches=max_mismatches):
        await repository.lock(session, attempt.id, now=now)
        auth_event("auth_code_locked", outcome="refused", account=found.id, level=logging.WARNING)
    return Check("mismatch", customer=found, code_id=attempt.id)


def _code_matches(ctx: ServiceContext, account_id: uuid.UUID, typed: str, stored: bytes) -> bool:
    return typed_code_matches(ctx.keyring, PURPOSE, str(account_id), typed, stored)


async def _without_live_code(session: AsyncSession, account: Account | None) -> Check:
    """The answer when no attempt could be counted: why there is no live code."""
    live = account if account is not None and not account.disabled else None
    latest = await repository.get_latest(session, live.id if live else NOBODY)
    return Check(result=rules.reason_without_live_code(latest), customer=_customer(account))


def _customer(account: Account | None) -> Customer | None:
    return Customer(id=account.id, login=account.login) if account is not None else None
