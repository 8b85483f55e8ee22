"""Second factors: which steps a login asks for and accepts (the strategies), and their
enrolment. Check, then act; the rules are in rules.py."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.accounts import repository as accounts
from authsvc.accounts.models import Account
from authsvc.context import ServiceContext
from authsvc.core.db import keep, keep_and_refuse
from authsvc.delivery import outbox
from authsvc.delivery.notify import account_message, time_params
from authsvc.factors import labels, recovery, repository, rules, sealing, totp
from authsvc.factors import passkeys as webauthn
from authsvc.factors.codes import CodeStrategy
from authsvc.factors.errors import (
    EnrollmentExpired,
    EnrollmentNotFound,
    FactorNotEnrolled,
    InvalidFactorCode,
    InvalidPasskey,
    PasskeyChallengeExpired,
    PasskeyCounterRegressed,
    PasskeyLimitReached,
    PasskeyNotAccepted,
    PasskeyNotFound,
    PasskeySignInDisabled,
    StrongFactorRequired,
    TotpAlreadyEnrolled,
)
from authsvc.factors.models import PasskeyCredential, TotpFactor
from authsvc.factors.passkeys import PasskeyStrategy
from authsvc.factors.recovery import RecoveryStrategy
from authsvc.factors.repository import RecoverySet
from authsvc.factors.strategy import Accepted, Attempted, Begun, Proof, Read, Strategy
from authsvc.factors.totp import TotpStrategy
from authsvc.links import service as links
from authsvc.ops.events import auth_event
from authsvc.throttling import rules as throttle_rules
from authsvc.throttling import service as throttling
from authsvc.throttling.errors import TooManyAttempts

# Every second step, by its name in the API. A new factor is one more entry.
STRATEGIES: Mapping[str, Strategy] = {
    "email": CodeStrategy("email"),
    "sms": CodeStrategy("sms"),
    "totp": TotpStrategy(),
    "passkey": PasskeyStrategy(),
    rules.RECOVERY: RecoveryStrategy(),
}


# Steps that send nothing and only add to the answer: begun beside the asked one.
OFFERED_ALONGSIDE = frozenset({"passkey"})


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


async def begin(
    ctx: ServiceContext,
    factor: str,
    account: Account,
    *,
    challenge_id: uuid.UUID,
    channel: str,
    now: datetime,
    accepted: Sequence[str] = (),
) -> Begun:
    """Start `factor`'s step for a challenge: the code sent, the passkey options, or
    nothing. A passkey among the other `accepted` steps is offered too (its options in
    the answer), so any accepted step can finish the login."""
    begun = await STRATEGIES[factor].begin(ctx, account, challenge_id=challenge_id,
                                           channel=channel, now=now)  # fmt: skip
    answer = dict(begun.answer)
    for other in accepted:
        if other != factor and other in OFFERED_ALONGSIDE:
            also = await STRATEGIES[other].begin(ctx, account, challenge_id=challenge_id,
                                                 channel=channel, now=now)  # fmt: skip
            answer.update(also.answer)
    return dataclasses.replace(begun, answer=answer)


def reads(proof: Proof) -> tuple[Read, ...]:
    """What the strategies would read to check `proof`: the login reads it with the
    challenge's attempt, in the same statement."""
    wanted = (strategy.reads(proof) for strategy in STRATEGIES.values())
    return tuple(read for read in wanted if read is not None)


@dataclass(frozen=True)
class Verified:
    factor: str  # the step the proof completes
    accepted: Accepted  # its claim, messages and what follows


async def verify(
    session: AsyncSession,
    ctx: ServiceContext,
    attempted: Attempted,
    proof: Proof,
    *,
    factors: list[str],
    now: datetime,
) -> Verified | None:
    """The factor among `factors` that `proof` completes (once its claim holds), or None;
    its attempt was spent already, by the caller."""
    for name in factors:
        strategy = STRATEGIES.get(name)
        if strategy is None:
            continue
        accepted = await strategy.verify(session, ctx, attempted, proof, now=now)
        if accepted is not None:
            return Verified(name, accepted)
    return None


# --- the overview -------------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    account: Account
    totp: TotpFactor | None  # confirmed only
    recovery: RecoverySet | None
    passkeys: list[PasskeyCredential]


async def overview(session: AsyncSession, account: Account) -> Overview:
    """The account's factors as `GET /factors` shows them."""
    factor = await repository.active_totp(session, account.id)
    return Overview(
        account, factor, await repository.recovery_set(session, account.id),
        await repository.passkeys(session, account.id),
    )  # fmt: skip


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
    strong = enrolled.strong()
    if strong:
        if account.preferred_factor not in (None, *rules.CODE_FACTORS, *strong):
            # The preferred step went: the remaining strong one is asked for instead.
            await accounts.set_second_step(session, account.id, preferred_factor=strong[0], now=now)
        return
    await repository.delete_recovery_codes(session, account.id)
    await accounts.set_second_step(session, account.id, preferred_factor=None, now=now)


# --- passkeys ---------------------------------------------------------------------------------


async def passkey_registration_options(
    session: AsyncSession, ctx: ServiceContext, account: Account, *, session_id: uuid.UUID
) -> dict[str, object]:
    """Creation options for a new passkey, bound to the session; refused at the limit."""
    if (await repository.enrolled(session, account.id)).passkeys >= rules.MAX_PASSKEYS:
        raise PasskeyLimitReached()
    return await webauthn.registration_options(session, ctx, account, bound_to=session_id)


@dataclass(frozen=True)
class AddedPasskey:
    passkey: PasskeyCredential
    recovery_codes: list[str] | None  # with the first strong factor, shown once


async def add_passkey(
    session: AsyncSession,
    ctx: ServiceContext,
    account: Account,
    *,
    session_id: uuid.UUID,
    name: str,
    credential: Mapping[str, object],
    ip: str,
) -> AddedPasskey:
    """Register a passkey (its challenge used); the first strong factor also gets
    recovery codes and becomes the preferred step."""
    now = ctx.clock.now()
    await repository.lock_passkeys(session, account.id)
    enrolled = await repository.enrolled(session, account.id)
    if enrolled.passkeys >= rules.MAX_PASSKEYS:
        raise PasskeyLimitReached()
    try:
        new = await webauthn.verify_registration(
            session, ctx, credential, bound_to=session_id, now=now
        )
    except InvalidPasskey:
        auth_event("passkey_registration_failed", outcome="failure", ip=ip, account=account.id)
        raise
    passkey = PasskeyCredential(
        id=uuid.uuid4(), account_id=account.id, credential_id=new.credential_id,
        public_key=new.public_key, sign_count=new.sign_count, name=name,
        transports=new.transports, backed_up=new.backed_up, created_at=now,
    )  # fmt: skip
    if not await repository.add_passkey(session, passkey):
        raise InvalidPasskey("This passkey is registered already.")
    codes = None
    if enrolled.recovery_codes == 0:
        codes = await recovery.issue_set(session, ctx, account.id, now=now)
    if account.preferred_factor in (None, *rules.CODE_FACTORS):
        await accounts.set_second_step(session, account.id, preferred_factor="passkey", now=now)
    await _tell(session, ctx, account, "passkey_added", ip=ip, now=now, name=name)
    auth_event("passkey_added", outcome="success", ip=ip, account=account.id,
               passkey=str(passkey.id))  # fmt: skip
    return AddedPasskey(passkey, codes)


async def rename_passkey(
    session: AsyncSession, account: Account, *, passkey_id: uuid.UUID, name: str
) -> PasskeyCredential:
    """Give one of the account's passkeys a new name."""
    passkey = await repository.rename_passkey(session, account.id, passkey_id, name)
    if passkey is None:
        raise PasskeyNotFound()
    return passkey


async def remove_passkey(
    session: AsyncSession, ctx: ServiceContext, account: Account, *, passkey_id: uuid.UUID,
    ip: str,
) -> None:  # fmt: skip
    """Remove one passkey: it no longer signs in; without a strong factor left, the
    account signs in with codes again and its recovery codes go."""
    now = ctx.clock.now()
    name = await repository.delete_passkey(session, account.id, passkey_id)
    if name is None:
        raise PasskeyNotFound()
    await _after_strong_factor_removed(session, account, now=now)
    await _tell(session, ctx, account, "passkey_removed", ip=ip, now=now, name=name)
    auth_event("passkey_removed", outcome="success", ip=ip, account=account.id,
               passkey=str(passkey_id))  # fmt: skip


# --- passkey assertions outside a login challenge ---------------------------------------------


async def passwordless_options(
    session: AsyncSession, ctx: ServiceContext, *, ip: str
) -> tuple[uuid.UUID, dict[str, object]]:
    """A passwordless flow: its id and the request options (any discoverable passkey,
    user verification required)."""
    now = ctx.clock.now()
    await _passwordless_allowed(session, ctx, ip=ip, now=now)
    return await webauthn.authentication_options(
        session, ctx, flow=webauthn.PASSWORDLESS, bound_to=None, account_id=None, now=now
    )


async def passwordless(
    session: AsyncSession,
    ctx: ServiceContext,
    *,
    flow_id: uuid.UUID,
    credential: Mapping[str, object],
    who: webauthn.Who,
) -> PasskeyCredential:
    """The passkey, with user verification, that answered the passwordless flow."""
    now = ctx.clock.now()
    await _passwordless_allowed(session, ctx, ip=who.ip, now=now)
    await keep(session)  # the request counts whatever its outcome
    return await _asserted(
        session, ctx, credential, flow=webauthn.PASSWORDLESS, bound_to=flow_id,
        account_id=None, user_verification=True, who=who, now=now,
    )  # fmt: skip


async def _passwordless_allowed(
    session: AsyncSession, ctx: ServiceContext, *, ip: str, now: datetime
) -> None:
    """Refused when turned off, or over the client address's passwordless rate."""
    settings = ctx.settings
    if not settings.passkey_sign_in:
        raise PasskeySignInDisabled()
    wait = await throttling.count_rate(
        session, "passkey:" + throttle_rules.ip_key(ip), limit=settings.passkey_ip_limit,
        window=settings.throttle_ip_window, now=now,
    )  # fmt: skip
    if wait is not None:
        auth_event("passkey_throttled", outcome="refused", ip=ip, account=None)
        raise await keep_and_refuse(session, TooManyAttempts.over_rate(wait))


async def reauth_options(
    session: AsyncSession, ctx: ServiceContext, account: Account, *, session_id: uuid.UUID
) -> dict[str, object]:
    """Request options for re-authenticating the session with one of its passkeys."""
    if not (await repository.enrolled(session, account.id)).passkeys:
        raise FactorNotEnrolled()
    _, options = await webauthn.authentication_options(
        session, ctx, flow=webauthn.REAUTH, bound_to=session_id, account_id=account.id,
        now=ctx.clock.now(),
    )  # fmt: skip
    return options


async def reauth_passkey(
    session: AsyncSession,
    ctx: ServiceContext,
    account: Account,
    *,
    session_id: uuid.UUID,
    credential: Mapping[str, object],
    who: webauthn.Who,
) -> PasskeyCredential:
    """One of the account's passkeys, with user verification (it stands in for the
    password), answered the session's re-authentication challenge."""
    return await _asserted(
        session, ctx, credential, flow=webauthn.REAUTH, bound_to=session_id,
        account_id=account.id, user_verification=True, who=who, now=ctx.clock.now(),
    )  # fmt: skip


async def _asserted(
    session: AsyncSession,
    ctx: ServiceContext,
    credential: Mapping[str, object],
    *,
    flow: str,
    bound_to: uuid.UUID,
    account_id: uuid.UUID | None,
    user_verification: bool,
    who: webauthn.Who,
    now: datetime,
) -> PasskeyCredential:
    """`webauthn.verify_assertion`, its refusals logged; a copied passkey's security
    event and notice are kept with the refusal."""
    try:
        return await webauthn.verify_assertion(
            session, ctx, credential, flow=flow, bound_to=bound_to, account_id=account_id,
            user_verification=user_verification, who=who, now=now,
        )  # fmt: skip
    except PasskeyCounterRegressed as regressed:
        raise await keep_and_refuse(session, regressed) from None
    except (PasskeyNotAccepted, PasskeyChallengeExpired):
        auth_event("passkey_failed", outcome="failure", ip=who.ip, account=account_id,
                   flow=flow)  # fmt: skip
        raise


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
    await repository.delete_passkeys(session, account.id)
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
    name: str = "",
) -> None:
    """The customer's notice of a factor change (`name`: the passkey's), with a "this
    wasn't me" link (whoever changed how the account signs in may hold the session, and
    the password)."""
    not_me = links.issue(
        ctx.keyring, ctx.settings, account_id=account.id, subject_kind="factor",
        subject_id=account.id, now=now,
    )  # fmt: skip
    await links.add(session, not_me)
    text = labels.change_text(account.locale, change).replace("{name}", name)
    message = account_message(
        keyring=ctx.keyring, account=account, template="factor_changed",
        params={"login": account.login, "change": text,
                **time_params(now, ctx.settings.timezone), "ip": ip, "not_me_url": not_me.url},
        now=now, secret_params=("not_me_url",),
    )  # fmt: skip
    await outbox.enqueue(session, message)
