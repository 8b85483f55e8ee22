"""Authorization code rules: one live code per account, an hour long, reusable, 5 mismatches.

The code is a support-identity secret, not a login factor: it is signed under its own
purpose and kept in its own table, so `/login/verify` never accepts it and a login OTP
never verifies here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.accounts.models import Account
from authsvc.auth_codes import repository, rules
from authsvc.auth_codes.models import AuthCode
from authsvc.auth_codes.rules import Reason
from authsvc.context import ServiceContext
from authsvc.core.codes import typed_code_candidates
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


async def revoke(
    session: AsyncSession, *, account_id: uuid.UUID, now: datetime, client_ip: str
) -> None:
    """End the account's live code now, if it has one."""
    if await repository.revoke_active(session, account_id, now=now, reason="revoked"):
        auth_event("auth_code_revoked", outcome="success", ip=client_ip, account=account_id)


def candidates(keyring: Keyring, account_id: uuid.UUID, typed: str) -> list[bytes]:
    """What the account's stored code must equal for `typed` to be it (see
    repository.attempt_statement); none for a malformed code, a wrong attempt like any."""
    return typed_code_candidates(keyring, PURPOSE, str(account_id), typed)


async def reason_without_live_code(session: AsyncSession, account_id: uuid.UUID) -> Reason:
    """Why an attempt found no live code: judged by the account's latest code."""
    return rules.reason_without_live_code(await repository.get_latest(session, account_id))
