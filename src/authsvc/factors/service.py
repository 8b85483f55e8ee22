"""Second factors: which steps a login asks for and accepts (the strategies), and their
enrolment. Check, then act; the rules are in rules.py."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.accounts import repository as accounts
from authsvc.accounts.models import Account
from authsvc.context import ServiceContext
from authsvc.delivery import outbox
from authsvc.delivery.notify import account_message, time_params
from authsvc.factors import labels, recovery, repository, rules, sealing, totp
from authsvc.factors.codes import CodeStrategy
from authsvc.factors.errors import (
    EnrollmentExpired,
    EnrollmentNotFound,
    FactorNotEnrolled,
    InvalidFactorCode,
    StrongFactorRequired,
    TotpAlreadyEnrolled,
)
from authsvc.factors.models import TotpFactor
from authsvc.factors.recovery import RecoveryStrategy
from authsvc.factors.repository import RecoverySet
from authsvc.factors.strategy import Attempted, Begun, Proof, Strategy
from authsvc.factors.totp import TotpStrategy
from authsvc.links import service as links
from authsvc.ops.events import auth_event

# Every second step, by its name in the API. A new factor is one more entry.
STRATEGIES: Mapping[str, Strategy] = {
    "email": CodeStrategy("email"),
    "sms": CodeStrategy("sms"),
    "totp": TotpStrategy(),
    rules.RECOVERY: RecoveryStrategy(),
}


# --- for the login ------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    factor: str  # asked for now
    factors: list[str]  # accepted by the challenge


async def plan(ctx: ServiceContext, account: Account) -> Plan:
    """What a new challenge of `account` asks for and accepts. An account that never
    chose (`preferred_factor` NULL) has no strong factor, so most logins read nothing."""
    enrolled = rules.NOTHING
    if account.preferred_factor is not None:
        async with ctx.db.autocommit() as session:
            enrolled = await repository.enrolled(session, account.id)
    accepted = rules.accepted_factors(account, enrolled)
    return Plan(rules.asked_factor(account, accepted), accepted)


def begin(
    ctx: ServiceContext,
    factor: str,
    account: Account,
    *,
    challenge_id: uuid.UUID,
    channel: str,
    now: datetime,
) -> Begun:
    """Start `factor`'s step for a challenge: the code sent, or nothing."""
    return STRATEGIES[factor].begin(ctx, account, challenge_id=challenge_id, channel=channel,
                                    now=now)  # fmt: skip


async def verify(
    session: AsyncSession,
    ctx: ServiceContext,
    attempted: Attempted,
    proof: Proof,
    *,
    factors: list[str],
    now: datetime,
) -> str | None:
    """The factor among `factors` that `proof` completes, or None; its attempt was spent
    already, by the caller."""
    for name in factors:
        strategy = STRATEGIES.get(name)
        if strategy is not None and await strategy.verify(session, ctx, attempted, proof, now=now):
            return name
    return None


# --- the overview -------------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    account: Account
    totp: TotpFactor | None  # confirmed only
    recovery: RecoverySet | None


async def overview(session: AsyncSession, account: Account) -> Overview:
    """The account's factors as `GET /factors` shows them."""
    factor = await repository.active_totp(session, account.id)
    return Overview(account, factor, await repository.recovery_set(session, account.id))


def preferred(account: Account) -> str:
    return account.preferred_factor or account.channel


# --- the authenticator app ------------------------------------------------------------------


@dataclass(frozen=True)
class TotpEnrollment:
    factor_id: uuid.UUID
    secret: str  # shown once, to be typed or scanned into the app
    otpauth_uri: str
    qr_svg: str
    expires_at: datetime


async def start_totp(
    session: AsyncSession, ctx: ServiceContext, account: Account, *, ip: str
) -> TotpEnrollment:
    """A pending app (10 minutes) in place of any pending one; refused while one is active."""
    now = ctx.clock.now()
    secret = rules.new_totp_secret()
    factor_id = uuid.uuid4()
    factor = TotpFactor(
        id=factor_id, account_id=account.id,
        secret_sealed=sealing.seal(ctx.keyring, factor_id, secret),
        created_at=now, expires_at=now + ctx.settings.totp_enrollment_ttl, last_step=0,
    )  # fmt: skip
    if not await repository.replace_pending_totp(session, factor):
        raise TotpAlreadyEnrolled()
    uri = totp.otpauth_uri(secret, issuer_name=totp.issuer(ctx.settings), login=account.login)
    auth_event("totp_enrollment_started", outcome="pending", ip=ip, account=account.id)
    return TotpEnrollment(factor_id, secret, uri, totp.qr_svg(uri), factor.expires_at)


async def confirm_totp(
    session: AsyncSession,
    ctx: ServiceContext,
    account: Account,
    *,
    factor_id: uuid.UUID,
    code: str,
    ip: str,
) -> list[str] | None:
    """Activate the pending app with a first code (its step spent); the first strong
    factor also gets recovery codes, returned to be shown once."""
    now = ctx.clock.now()
    factor = await repository.get_totp(session, account.id)
    if factor is None or factor.id != factor_id:
        raise EnrollmentNotFound()
    if factor.confirmed_at is not None:
        raise TotpAlreadyEnrolled()
    if factor.expires_at <= now:
        raise EnrollmentExpired()
    if not await totp.accept(session, ctx, account.id, code, now=now, pending_id=factor_id):
        auth_event("totp_confirm_failed", outcome="failure", ip=ip, account=account.id)
        raise InvalidFactorCode()
    enrolled = await repository.enrolled(session, account.id)
    codes = None
    if enrolled.recovery_codes == 0:
        codes = await recovery.issue_set(session, ctx, account.id, now=now)
    if account.preferred_factor in (None, *rules.CODE_FACTORS):
        await accounts.set_second_step(session, account.id, preferred_factor="totp", now=now)
    await _tell(session, ctx, account, "totp_added", ip=ip, now=now)
    auth_event("totp_enrolled", outcome="success", ip=ip, account=account.id)
    return codes


async def remove_totp(
    session: AsyncSession, ctx: ServiceContext, account: Account, *, ip: str
) -> None:
    """Remove the app (pending or active); without a strong factor left, the account
    signs in with codes again and its recovery codes go."""
    now = ctx.clock.now()
    if not await repository.delete_totp(session, account.id):
        raise FactorNotEnrolled()
    await _after_strong_factor_removed(session, account, now=now)
    await _tell(session, ctx, account, "totp_removed", ip=ip, now=now)
    auth_event("totp_removed", outcome="success", ip=ip, account=account.id)


async def _after_strong_factor_removed(
    session: AsyncSession, account: Account, *, now: datetime
) -> None:
    enrolled = await repository.enrolled(session, account.id)
    if enrolled.strong():
        return
    await repository.delete_recovery_codes(session, account.id)
    await accounts.set_second_step(session, account.id, preferred_factor=None, now=now)


# --- recovery codes and the preferred step -------------------------------------------------


async def new_recovery_codes(
    session: AsyncSession, ctx: ServiceContext, account: Account, *, ip: str
) -> list[str]:
    """A new set of 10 in place of the old one; only beside a strong factor."""
    now = ctx.clock.now()
    if not (await repository.enrolled(session, account.id)).strong():
        raise StrongFactorRequired()
    codes = await recovery.issue_set(session, ctx, account.id, now=now)
    await _tell(session, ctx, account, "recovery_codes_new", ip=ip, now=now)
    auth_event("recovery_codes_created", outcome="success", ip=ip, account=account.id)
    return codes


async def choose_preferred(
    session: AsyncSession,
    ctx: ServiceContext,
    account: Account,
    *,
    factor: str,
    codes_fallback: bool | None,
    ip: str,
) -> Account:
    """Set the step asked for first (and whether codes stay a fallback)."""
    now = ctx.clock.now()
    fallback = account.codes_fallback if codes_fallback is None else codes_fallback
    enrolled = await repository.enrolled(session, account.id)
    refusal = rules.preferred_refusal(
        factor, account=account, enrolled=enrolled, codes_fallback=fallback
    )
    if refusal is not None:
        raise refusal
    await accounts.set_second_step(
        session, account.id, preferred_factor=factor, codes_fallback=fallback,
        channel=factor if factor in rules.CODE_FACTORS else None, now=now,
    )  # fmt: skip
    await _tell(session, ctx, account, "preferred_changed", ip=ip, now=now)
    auth_event("preferred_factor_changed", outcome="success", ip=ip, account=account.id,
               factor=factor, codes_fallback=fallback)  # fmt: skip
    updated = await accounts.get_by_id(session, account.id)
    assert updated is not None
    await session.refresh(updated)
    return updated


async def reset_factors(session: AsyncSession, ctx: ServiceContext, account: Account) -> None:
    """The operator's recovery: remove the app and the recovery codes, tell the customer.
    (The caller audits it.)"""
    now = ctx.clock.now()
    await repository.delete_totp(session, account.id)
    await repository.delete_recovery_codes(session, account.id)
    await accounts.set_second_step(
        session, account.id, preferred_factor=None, codes_fallback=False, now=now
    )
    await _tell(session, ctx, account, "factors_reset", ip="-", now=now)


async def _tell(
    session: AsyncSession,
    ctx: ServiceContext,
    account: Account,
    change: str,
    *,
    ip: str,
    now: datetime,
) -> None:
    """The customer's notice of a factor change, with a "this wasn't me" link (whoever
    changed how the account signs in may hold the session, and the password)."""
    not_me = links.issue(
        ctx.keyring, ctx.settings, account_id=account.id, subject_kind="factor",
        subject_id=account.id, now=now,
    )  # fmt: skip
    await links.add(session, not_me)
    message = account_message(
        keyring=ctx.keyring, account=account, template="factor_changed",
        params={"login": account.login, "change": labels.change_text(account.locale, change),
                **time_params(now, ctx.settings.timezone), "ip": ip, "not_me_url": not_me.url},
        now=now, secret_params=("not_me_url",),
    )  # fmt: skip
    await outbox.enqueue(session, message)
