"""Support verification: is this the customer's live authorization code? Every call audited.

`admit` checks the tool's key and counts the call against its rate; `verify` refuses a
call that is over its rate or lacks the scope, and otherwise checks the code. Either way
the call is written to the audit trail.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.accounts import repository as accounts
from authsvc.auth_codes import service as auth_codes
from authsvc.auth_codes.rules import Reason
from authsvc.auth_codes.service import Customer, Outcome
from authsvc.context import ServiceContext
from authsvc.core.db import keep_and_refuse
from authsvc.core.errors import AppError
from authsvc.delivery import outbox
from authsvc.delivery.notify import account_message, time_params
from authsvc.ops.events import auth_event
from authsvc.support import keys, repository
from authsvc.support.errors import InvalidApiKey
from authsvc.support.models import SupportKey
from authsvc.throttling.errors import TooManyAttempts
from authsvc.throttling.service import count_rate


@dataclass(frozen=True)
class Caller:
    """A support tool with a valid key, and how long it must wait when over its rate."""

    key: SupportKey
    over_rate_for: int | None


@dataclass(frozen=True)
class Verdict:
    valid: bool
    reason: Reason | None = None  # why not valid
    account: Customer | None = None  # only when valid
    expires_at: datetime | None = None  # only when valid


def rate_key(key: SupportKey) -> str:
    return f"rate:support-key:{key.id}"


async def admit(ctx: ServiceContext, token: str | None, *, client_ip: str) -> Caller:
    """The caller behind `token`, its call counted against the key's rate.

    Both statements run on their own (autocommit), before the verification's session
    takes a connection: the key's counter row is then locked for one statement, not for
    the whole verification, so one tool's calls do not queue behind each other.
    """
    async with ctx.db.autocommit() as session:
        try:
            key = await keys.authenticate(session, token)
        except InvalidApiKey:
            auth_event("support_key_refused", outcome="refused", ip=client_ip)
            raise
        over_rate_for = await count_rate(
            session,
            rate_key(key),
            limit=ctx.settings.support_key_rate_limit,
            window=ctx.settings.support_key_rate_window,
            now=ctx.clock.now(),
        )
    return Caller(key=key, over_rate_for=over_rate_for)


def refusal(caller: Caller) -> tuple[str, AppError] | None:
    """The audit result and the error for a call that may not verify, or None."""
    if caller.over_rate_for is not None:
        return "rate_limited", TooManyAttempts.over_rate(caller.over_rate_for)
    if keys.VERIFY_SCOPE not in caller.key.scopes:
        return "insufficient_scope", keys.missing_scope(caller.key, keys.VERIFY_SCOPE)
    return None


async def verify(
    session: AsyncSession,
    ctx: ServiceContext,
    *,
    caller: Caller,
    customer: str,
    code: str,
    purpose: str | None,
    client_ip: str,
) -> Verdict:
    audit = _Audit(session, ctx, caller.key, purpose=purpose, client_ip=client_ip)
    if refused := refusal(caller):
        result, error = refused
        account = await auth_codes.find_customer(session, customer)
        await audit.record(result, account.id if account else None)
        raise await keep_and_refuse(session, error)  # the audit row stays

    check = await auth_codes.check(session, ctx, customer=customer, code=code)
    await audit.record(check.result, check.customer.id if check.customer else None, check.code_id)
    if check.result != "valid":
        return Verdict(valid=False, reason=check.result)
    if check.first_valid and check.customer is not None:
        await _notify_first_check(session, ctx, check.customer.id, caller.key, purpose)
    return Verdict(valid=True, account=check.customer, expires_at=check.expires_at)


async def _notify_first_check(
    session: AsyncSession,
    ctx: ServiceContext,
    account_id: uuid.UUID,
    key: SupportKey,
    purpose: str | None,
) -> None:
    """Tell the customer at the code's first valid check, naming the tool and the purpose:
    a code obtained by deceit is then noticed at once. Later checks of the same code stay
    quiet (they are in the history)."""
    account = await accounts.get_by_id(session, account_id)
    if account is None:
        return
    now = ctx.clock.now()
    message = account_message(
        keyring=ctx.keyring,
        account=account,
        template="auth_code_checked",
        params={
            "login": account.login,
            **time_params(now, ctx.settings.timezone),
            "tool": key.name,
            "purpose": purpose or "-",
        },
        now=now,
    )
    await outbox.enqueue(session, message)


@dataclass(frozen=True)
class _Audit:
    """Writes one row of the audit trail per call (and a log line beside it)."""

    session: AsyncSession
    ctx: ServiceContext
    key: SupportKey
    purpose: str | None
    client_ip: str

    async def record(
        self,
        result: Outcome | str,
        account_id: uuid.UUID | None,
        code_id: uuid.UUID | None = None,
    ) -> None:
        await repository.record_verification(
            self.session,
            verified_at=self.ctx.clock.now(),
            support_key_id=self.key.id,
            account_id=account_id,
            auth_code_id=code_id,
            result=result,
            purpose=self.purpose,
            client_ip=self.client_ip,
        )
        auth_event(
            "support_verification", outcome=result, ip=self.client_ip, account=account_id,
            support_key=self.key.name,
        )  # fmt: skip
