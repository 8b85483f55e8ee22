"""Support verification: is this the customer's live authorization code? Every call audited.

`verify` checks the tool's key and counts the call against its rate, refuses a call that
is over its rate or lacks the scope, and otherwise checks the code. Either way the call
is written to the audit trail.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.accounts import logins
from authsvc.accounts.models import Account
from authsvc.auth_codes import service as auth_codes
from authsvc.auth_codes.rules import Reason
from authsvc.auth_codes.service import NOBODY, Customer, Outcome
from authsvc.context import ServiceContext
from authsvc.core.crypto import token_digest
from authsvc.core.errors import AppError
from authsvc.delivery.models import OutboxMessage
from authsvc.delivery.notify import account_message, time_params
from authsvc.ops.events import auth_event
from authsvc.ops.metrics import SUPPORT_VERIFICATIONS
from authsvc.support import keys, repository
from authsvc.support.errors import InvalidApiKey
from authsvc.throttling.errors import TooManyAttempts
from authsvc.throttling.rules import over_rate_for


@dataclass(frozen=True)
class Caller:
    """A support tool with a live key, and how long it must wait when over its rate."""

    key: repository.LiveKey
    over_rate_for: int | None


@dataclass(frozen=True)
class Verdict:
    valid: bool
    reason: Reason | None = None  # why not valid
    account: Customer | None = None  # only when valid
    expires_at: datetime | None = None  # only when valid


def well_formed_key(token: str | None, *, client_ip: str) -> str:
    """`token` when it could be a key; refused as any wrong key otherwise, without a
    lookup (and before the request's body is read)."""
    if not keys.well_formed(token):
        auth_event("support_key_refused", outcome="refused", ip=client_ip)
        raise InvalidApiKey()
    return token


def refusal(caller: Caller) -> tuple[str, AppError] | None:
    """The audit result and the error for a call that may not verify, or None."""
    if caller.over_rate_for is not None:
        return "rate_limited", TooManyAttempts.over_rate(caller.over_rate_for)
    if keys.VERIFY_SCOPE not in caller.key.scopes:
        return "insufficient_scope", keys.missing_scope(caller.key.name, keys.VERIFY_SCOPE)
    return None


async def verify(
    ctx: ServiceContext,
    *,
    token: str,
    customer: str,
    code: str,
    purpose: str | None,
    client_ip: str,
) -> Verdict:
    """Check the tool's key (`token`, already `well_formed_key`) and count the call
    against its rate, then count the attempt against the customer's code and compare it;
    each call leaves one audit row.

    Two statements for the usual call (the key, its rate and the customer; the attempt
    and its audit row), each atomic alone, so they run in autocommit: no BEGIN and
    COMMIT trips, and no row stays locked between them.
    """
    settings = ctx.settings
    now = ctx.clock.now()
    async with ctx.db.autocommit() as session:
        admission = await _admit(session, ctx, token, customer, client_ip=client_ip, now=now)
        caller = _caller(ctx, admission, now=now)
        named = admission.account
        audit = _Audit(session, ctx, caller, purpose=purpose, client_ip=client_ip)
        if refused := refusal(caller):
            result, error = refused
            await audit.record(result, named.id if named else None)
            raise error  # the audit row stays (autocommit)

        # A customer that does not exist or is disabled runs the same statements as one
        # without a code: the same answer, and about the same time.
        account = named if named is not None and not named.disabled else None
        account_id = account.id if account is not None else NOBODY
        attempt = await repository.attempt_and_record(
            session, account_id=account_id,
            candidates=auth_codes.candidates(ctx.keyring, account_id, code), now=now,
            max_mismatches=settings.auth_code_max_mismatches, support_key_id=caller.key.id,
            purpose=purpose, client_ip=client_ip,
            first_check_notice=_first_check_notice(ctx, account, caller, purpose, now),
        )  # fmt: skip
        if attempt is None:
            reason = await auth_codes.reason_without_live_code(session, account_id)
            await audit.record(reason, named.id if named else None)
            return Verdict(valid=False, reason=reason)
    audit.log("valid" if attempt.matched else "mismatch", attempt.account_id)
    if not attempt.matched:
        if attempt.locked:
            auth_event("auth_code_locked", outcome="refused", ip=client_ip,
                       account=attempt.account_id, level=logging.WARNING)  # fmt: skip
        return Verdict(valid=False, reason="mismatch")
    assert account is not None  # a code matched, so its account was live
    found = Customer(id=account.id, login=account.login)
    return Verdict(valid=True, account=found, expires_at=attempt.expires_at)


async def refuse_body(ctx: ServiceContext, *, token: str | None, client_ip: str) -> None:
    """A call whose body was refused (malformed, too large, not JSON) is still a call of
    its key: refused as any other when the key is not live, over its rate or without the
    scope; else audited as `invalid_request` (naming no customer: none was read), after
    which the caller answers with the body's refusal."""
    token = well_formed_key(token, client_ip=client_ip)
    now = ctx.clock.now()
    async with ctx.db.autocommit() as session:
        admission = await _admit(session, ctx, token, "", client_ip=client_ip, now=now)
        caller = _caller(ctx, admission, now=now)
        audit = _Audit(session, ctx, caller, purpose=None, client_ip=client_ip)
        if refused := refusal(caller):
            result, error = refused
            await audit.record(result, None)
            raise error
        await audit.record("invalid_request", None)


async def _admit(
    session: AsyncSession,
    ctx: ServiceContext,
    token: str,
    customer: str,
    *,
    client_ip: str,
    now: datetime,
) -> repository.Admission:
    """The live key of `token`, one more call counted on its rate, and the customer it
    names; InvalidApiKey when no live key has that digest."""
    admission = await repository.admit(
        session, digest=token_digest(token), customer=logins.fold(customer) or "",
        customer_id=_as_uuid(customer), now=now,
        window_start=now - ctx.settings.support_key_rate_window,
    )  # fmt: skip
    if admission is None:
        auth_event("support_key_refused", outcome="refused", ip=client_ip)
        raise InvalidApiKey()
    return admission


def _caller(ctx: ServiceContext, admission: repository.Admission, *, now: datetime) -> Caller:
    settings = ctx.settings
    return Caller(
        key=admission.key,
        over_rate_for=over_rate_for(
            admission.calls, admission.window_started_at, limit=settings.support_key_rate_limit,
            window=settings.support_key_rate_window, now=now,
        ),
    )  # fmt: skip


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _first_check_notice(
    ctx: ServiceContext,
    account: Account | None,
    caller: Caller,
    purpose: str | None,
    now: datetime,
) -> OutboxMessage | None:
    """The e-mail for the code's first valid check, naming the tool and the purpose: a code
    obtained by deceit is then noticed at once. Built for every check of a live account;
    the attempt's statement queues it only when the check is the code's first valid one
    (later checks stay quiet: they are in the history)."""
    if account is None:
        return None
    return account_message(
        keyring=ctx.keyring,
        account=account,
        template="auth_code_checked",
        params={
            "login": account.login,
            **time_params(now, ctx.settings.timezone),
            "tool": caller.key.name,
            "purpose": purpose or "-",
        },
        now=now,
    )


@dataclass(frozen=True)
class _Audit:
    """One row of the audit trail per call, and a log line beside it."""

    session: AsyncSession
    ctx: ServiceContext
    caller: Caller
    purpose: str | None
    client_ip: str

    async def record(self, result: Outcome | str, account_id: uuid.UUID | None) -> None:
        await repository.record_verification(
            self.session,
            verified_at=self.ctx.clock.now(),
            support_key_id=self.caller.key.id,
            account_id=account_id,
            auth_code_id=None,
            result=result,
            purpose=self.purpose,
            client_ip=self.client_ip,
        )
        self.log(result, account_id)

    def log(self, result: Outcome | str, account_id: uuid.UUID | None) -> None:
        # By the key's name (operators create a handful): the alert on a key that guesses.
        SUPPORT_VERIFICATIONS.labels(key=self.caller.key.name, result=result).inc()
        auth_event(
            "support_verification", outcome=result, ip=self.client_ip, account=account_id,
            support_key=self.caller.key.name,
        )  # fmt: skip
