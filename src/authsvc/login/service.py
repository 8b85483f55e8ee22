"""Two-step login: password, then a one-time code, then a session.

The refusal rules are in rules.py; this module reads, checks, then acts."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.accounts import logins
from authsvc.accounts import repository as accounts
from authsvc.accounts.models import Account
from authsvc.context import ServiceContext
from authsvc.core.db import keep, keep_and_refuse
from authsvc.core.errors import Overloaded
from authsvc.delivery import outbox
from authsvc.delivery.models import OutboxMessage
from authsvc.delivery.notify import account_message, time_params
from authsvc.factors import codes as code_factors
from authsvc.factors import labels
from authsvc.factors import service as factors
from authsvc.factors.errors import PasskeyNotAccepted
from authsvc.factors.passkeys import Who
from authsvc.factors.strategy import ACCEPTED, Accepted, Attempted, Proof
from authsvc.links import service as links
from authsvc.login import devices, repository, rules
from authsvc.login.errors import (
    ChallengeExhausted,
    ChallengeExpired,
    ChallengeNotFound,
    InvalidCode,
    InvalidCredentials,
    PasswordResetRequired,
)
from authsvc.login.masking import mask_destination
from authsvc.login.models import LoginChallenge
from authsvc.ops.events import auth_event
from authsvc.ops.metrics import SIGN_INS
from authsvc.sessions.devices import describe as describe_device
from authsvc.sessions.models import UserSession
from authsvc.sessions.service import NewSession, mark_reauthenticated
from authsvc.sessions.service import new_session as new_user_session
from authsvc.sms_guard import service as sms_guard
from authsvc.throttling import rules as throttle_rules
from authsvc.throttling.errors import TooManyAttempts


@dataclass(frozen=True)
class Client:
    """Who is on the other end of the request."""

    ip: str
    user_agent: str
    device_cookie: str | None = None  # as presented; proves something only for its login


@dataclass(frozen=True)
class ChallengeView:
    challenge_id: uuid.UUID
    factor: str
    factors: list[str]
    channel: str
    destination: str
    expires_at: datetime
    resend_after: datetime
    attempts_left: int
    # Why a code meant for SMS went by e-mail (`limited`: an SMS budget is spent).
    sms_unavailable: sms_guard.SmsUnavailable | None = None
    # What the step begun adds to the answer (`passkey_options`).
    answer: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class ChallengeStatus:
    view: ChallengeView
    delivery: rules.Delivery


@dataclass(frozen=True)
class SignedIn:
    account: Account
    session: NewSession
    device_cookie: str  # a fresh device cookie for this browser and login


# --- step one: the password ---------------------------------------------------------


async def start_login(
    ctx: ServiceContext, *, login: str, password: str, client: Client
) -> ChallengeView:
    """Check the password, then open a challenge and queue its code.

    The hot path of the service: one write before the hash (the attempt reserved on the
    throttle counters, with the account read) and one after it (the challenge, its
    messages and the reservation settled), each a single autocommit statement, so no
    pooled connection waits while argon2 runs.
    """
    folded = logins.fold(login)
    if folded is None:  # no account can have it: nothing to look up, count or hash
        auth_event("password_failed", outcome="failure", ip=client.ip, account=None)
        raise InvalidCredentials()
    keys = _throttle_keys(ctx, folded, client)
    async with ctx.db.autocommit() as session:
        reservation = await _reserve(session, ctx, folded, keys)
    account = reservation.account
    try:
        matches = await _password_matches(ctx, account, password)  # a dummy hash for None
    except Overloaded:  # no password was judged: the attempt does not count
        async with ctx.db.autocommit() as session:
            await repository.hand_back(session, reservation, keys)
        raise
    if account is None or not matches:
        async with ctx.db.transaction() as session:
            await _after_failure(session, ctx, reservation, keys, event="password_failed")
        raise InvalidCredentials()
    await _refuse_if_reset_required(ctx, reservation, keys, client.ip)
    new_hash = await _updated_hash(ctx, account, password)

    plan = await factors.plan(ctx, account)
    # A code asked for by SMS passes the SMS budgets first, or goes by e-mail.
    route = await sms_guard.channel_for(
        ctx, account=account, channel=plan.factor, ip=client.ip, purpose="login"
    )
    challenge = _new_challenge(ctx, account, client, plan, route)  # after the hashes
    begun = await factors.begin(
        ctx, challenge.factor, account, challenge_id=challenge.id, channel=challenge.channel,
        now=challenge.created_at, accepted=challenge.factors,
    )  # fmt: skip
    challenge.code_hash = begun.code_hash
    notice = _incomplete_notice(ctx, account, challenge)
    messages = [begun.message] if begun.message is not None else []
    challenge.message_id = begun.message.id if begun.message is not None else None
    challenge.notice_id = notice.id
    async with ctx.db.autocommit() as session:
        await repository.open_challenge(
            session, challenge, [*messages, notice], reservation=reservation, keys=keys
        )
        if new_hash is not None:
            await accounts.set_password_hash(session, account.id, new_hash)
    auth_event(
        "password_succeeded", outcome="challenge", ip=client.ip, account=account.id,
        user_agent=client.user_agent, channel=challenge.channel, factor=challenge.factor,
    )  # fmt: skip
    return _view(ctx, challenge, account, route.sms_unavailable, begun.answer)


def _new_challenge(
    ctx: ServiceContext,
    account: Account,
    client: Client,
    plan: factors.Plan,
    route: sms_guard.Route,
) -> LoginChallenge:
    """The challenge's row; its code hash is set by the step it begins. A code asked for by
    SMS goes by the route's channel (e-mail when the SMS budgets refused it)."""
    now = ctx.clock.now()
    texted = plan.factor == "sms"
    channel = route.channel if texted else account.channel
    factor = route.channel if texted else plan.factor
    return LoginChallenge(
        id=uuid.uuid4(),
        account_id=account.id,
        code_hash=b"",
        channel=channel,
        factor=factor,
        factors=plan.factors,
        created_at=now,
        expires_at=now + ctx.settings.login_otp_ttl,
        last_sent_at=now,
        attempts=0,
        resends=0,
        ip=client.ip,
        user_agent=client.user_agent[:512],
    )


async def reauthenticate(
    session: AsyncSession,
    ctx: ServiceContext,
    *,
    account: Account,
    password: str,
    client: Client,
) -> None:
    """Confirm the signed-in customer's password; attempts are reserved and counted like
    the password step's, so a burst is judged as a sequence would be.

    The reservation is committed before argon2 runs (so concurrent requests see it) on
    the request's own connection: a second connection per request could wait forever
    for a pool that the requests themselves hold.
    """
    folded = _folded(account)
    keys = _throttle_keys(ctx, folded, client)
    reservation = await _reserve(session, ctx, folded, keys)
    await keep(session)
    try:
        matches = await _password_matches(ctx, account, password)
    except Overloaded as overloaded:  # no password was judged: the attempt does not count
        await repository.hand_back(session, reservation, keys)
        raise await keep_and_refuse(session, overloaded) from None
    if not matches:
        await _after_failure(session, ctx, reservation, keys, event="reauth_failed")
        raise await keep_and_refuse(session, InvalidCredentials())
    await repository.settle_success(session, reservation, keys)
    new_hash = await _updated_hash(ctx, account, password)
    if new_hash is not None:
        await accounts.set_password_hash(session, account.id, new_hash)


async def reauthenticate_session(
    session: AsyncSession,
    ctx: ServiceContext,
    *,
    account: Account,
    user_session: UserSession,
    password: str | None,
    client: Client,
    passkey: Mapping[str, object] | None = None,
) -> datetime:
    """Confirm the password (`reauthenticate`) or one of the account's passkeys, then
    open the session's re-authentication window; until when it is open."""
    if passkey is not None:
        await factors.reauth_passkey(
            session, ctx, account, session_id=user_session.id, credential=passkey,
            who=Who(client.ip, client.user_agent),
        )  # fmt: skip
    else:
        assert password is not None  # the request has exactly one of them
        await reauthenticate(session, ctx, account=account, password=password, client=client)
    now = ctx.clock.now()
    await mark_reauthenticated(session, user_session, now=now)
    auth_event("reauthenticated", outcome="success", ip=client.ip, account=account.id)
    return now + ctx.settings.reauth_window


def _throttle_keys(ctx: ServiceContext, folded: str, client: Client) -> repository.ThrottleKeys:
    """The login name's key and, when the client shows a genuine device cookie for this
    login, the device's (used while its epoch is the account's); the client address's."""
    settings = ctx.settings
    device = devices.device(ctx.keyring, client.device_cookie, folded)
    return repository.ThrottleKeys(
        login_key=throttle_rules.login_key(folded),
        device_key=throttle_rules.device_key(device.id) if device else None,
        device_epoch=device.epoch if device else None,
        ip_key=throttle_rules.ip_key(client.ip),
        ip=client.ip,
        own_policy=throttle_rules.login_policy(settings),
        ip_policy=throttle_rules.ip_policy(settings),
    )


async def _reserve(
    session: AsyncSession, ctx: ServiceContext, folded: str, keys: repository.ThrottleKeys
) -> repository.Reservation:
    """Reserve this attempt on the throttle counters, or refuse it while a back-off runs."""
    now = ctx.clock.now()
    reservation = await repository.reserve_password_attempt(
        session, login=folded, keys=keys, now=now
    )
    if reservation.admitted:
        return reservation
    if reservation.own is not None or reservation.ip_reserved:  # the other key was refused
        await repository.hand_back(session, reservation, keys)
    account = reservation.account
    auth_event("login_throttled", outcome="refused", ip=keys.ip, account=_id(account))
    wait = throttle_rules.blocked_for(reservation.blocked_until, now=now)
    raise TooManyAttempts(retry_after=wait or 1)


async def _after_failure(
    session: AsyncSession,
    ctx: ServiceContext,
    reservation: repository.Reservation,
    keys: repository.ThrottleKeys,
    *,
    event: str,
) -> None:
    """The failure is counted already (reserved); log it as `event`, and when it started
    the login name's back-off, queue the customer's notice in `session`: once per window,
    since exactly one reservation per window uses up the free failures."""
    account, own, ip = reservation.account, reservation.own, keys.ip
    auth_event(event, outcome="failure", ip=ip, account=_id(account))
    # A device's own failures are its owner's typos, not an attack on the account.
    if account is None or own is None or reservation.own_key != keys.login_key:
        return
    if throttle_rules.starts_backoff(own[0], keys.own_policy):
        now = ctx.clock.now()
        await outbox.enqueue(session, _attack_notice(ctx, account, own[1], now))
        auth_event("attack_notice", outcome="queued", ip=ip, account=account.id)


async def _refuse_if_reset_required(
    ctx: ServiceContext,
    reservation: repository.Reservation,
    keys: repository.ThrottleKeys,
    ip: str,
) -> None:
    """The password was right but cannot be used until it is reset: the attempt was no
    failure, so its reservation is handed back."""
    account = reservation.account
    if account is not None and account.password_reset_required:
        async with ctx.db.autocommit() as session:
            await repository.hand_back(session, reservation, keys)
        _raise_if_reset_required(account, ip)


def _raise_if_reset_required(account: Account, ip: str) -> None:
    if account.password_reset_required:
        auth_event("login_reset_required", outcome="refused", ip=ip, account=account.id)
        raise PasswordResetRequired()


async def _password_matches(ctx: ServiceContext, account: Account | None, password: str) -> bool:
    if account is None or account.disabled:
        # Same work as a real check, so timing does not tell the cases apart.
        await ctx.hasher.verify_dummy(password)
        return False
    return await ctx.hasher.verify(account.password_hash, password)


async def _updated_hash(ctx: ServiceContext, account: Account, password: str) -> str | None:
    """A fresh hash when the stored one was made with other parameters.

    Skipped when the hashing pool is full: the password was right, so the login goes on,
    and the upgrade happens at a later login.
    """
    if not ctx.hasher.needs_rehash(account.password_hash):
        return None
    try:
        return await ctx.hasher.hash(password)
    except Overloaded:
        return None


def _folded(account: Account) -> str:
    """An account's login as typed logins fold (every stored login is a valid one)."""
    return logins.fold(account.login) or account.login


def _id(account: Account | None) -> object:
    return account.id if account is not None else None


# --- step two: the code ---------------------------------------------------------------


async def verify_second_step(
    session: AsyncSession,
    ctx: ServiceContext,
    *,
    challenge_id: uuid.UUID,
    proof: Proof,
    client: Client,
) -> SignedIn:
    """Spend one of the challenge's attempts (comparing a sent code in the same
    statement), then ask the strategies it accepts whether `proof` completes one."""
    now = ctx.clock.now()
    max_attempts = ctx.settings.login_otp_max_attempts
    candidates = code_factors.candidates(ctx.keyring, challenge_id, proof)
    attempt = await repository.spend_attempt(
        session, challenge_id, candidates=candidates, now=now, max_attempts=max_attempts,
        reads=factors.reads(proof),
    )  # fmt: skip
    if attempt is None:
        raise await _why_unusable(session, challenge_id, now=now, max_attempts=max_attempts)
    account = attempt.account
    attempted = Attempted(challenge_id, account, attempt.matched, client.ip, client.user_agent,
                          attempt.read)  # fmt: skip
    verified = await factors.verify(
        session, ctx, attempted, proof, factors=attempt.factors, now=now
    )
    attempts_left = max_attempts - attempt.attempts
    if verified is None:
        raise await _wrong_proof(session, client, account.id, attempts_left)
    # These two refusals roll back: the challenge stays unused and the attempt unspent.
    if account.disabled:
        raise ChallengeExpired(ChallengeExpired.INVALIDATED)
    _raise_if_reset_required(account, client.ip)
    label = labels.factor_name(account.locale, verified.factor)
    # A proof the attempt statement did not compare uses the challenge with the session,
    # and what it uses up (its claim) is used up by the statement that writes the session.
    signed_in = await _sign_in(
        session, ctx, account, client, factor=verified.factor, label=label,
        own_notice=attempt.notice_id, now=now,
        use_challenge=None if attempt.matched else challenge_id, accepted=verified.accepted,
    )  # fmt: skip
    if signed_in is None:  # the claim did not hold (a replayed step, a used code)
        raise await _wrong_proof(session, client, account.id, attempts_left)
    return signed_in


async def _wrong_proof(
    session: AsyncSession, client: Client, account_id: uuid.UUID, attempts_left: int
) -> InvalidCode:
    """The refusal of a proof that completes no step; its spent attempt stays spent."""
    _log_wrong_code(client, account_id, attempts_left)
    return await keep_and_refuse(session, InvalidCode(attempts_left=attempts_left))


async def sign_in_with_passkey(
    session: AsyncSession,
    ctx: ServiceContext,
    *,
    flow_id: uuid.UUID,
    credential: Mapping[str, object],
    client: Client,
) -> SignedIn:
    """A discoverable passkey with user verification signs in on its own (the passkey
    strategy checks it); its account must be able to sign in."""
    who = Who(client.ip, client.user_agent)
    passkey = await factors.passwordless(
        session, ctx, flow_id=flow_id, credential=credential, who=who
    )
    account = await accounts.get_by_id(session, passkey.account_id)
    if account is None or account.disabled:
        raise PasskeyNotAccepted()
    _raise_if_reset_required(account, client.ip)
    label = labels.passkey_name(account.locale, passkey.name)
    signed_in = await _sign_in(
        session, ctx, account, client, factor="passkey", label=label, own_notice=None,
        now=ctx.clock.now(),
    )  # fmt: skip
    assert signed_in is not None  # no claim: always written
    return signed_in


async def _sign_in(
    session: AsyncSession,
    ctx: ServiceContext,
    account: Account,
    client: Client,
    *,
    factor: str,
    label: str,
    own_notice: uuid.UUID | None,
    now: datetime,
    use_challenge: uuid.UUID | None = None,
    accepted: Accepted = ACCEPTED,
) -> SignedIn | None:
    """The new session, its "this wasn't me" link and the confirmation naming `label`;
    the challenge `use_challenge` used, `accepted`'s claim and messages, by the same
    statement. None (nothing written) when that claim did not hold."""
    new_session = new_user_session(
        account_id=account.id, now=now, settings=ctx.settings, ip=client.ip,
        user_agent=client.user_agent,
    )  # fmt: skip
    not_me = links.issue(
        ctx.keyring, ctx.settings, account_id=account.id, subject_kind="login",
        subject_id=new_session.record.id, now=now,
    )  # fmt: skip
    written = await repository.finish_login(
        session, user_session=new_session.record, link=not_me.record,
        confirmation=_confirmation(ctx, account, client, now, not_me.url, label),
        own_notice=own_notice, now=now, use_challenge=use_challenge,
        messages=accepted.messages, claim=accepted.claim, claim_params=accepted.params,
    )  # fmt: skip
    if not written:
        return None
    if accepted.then is not None:
        accepted.then()
    auth_event(
        "login_succeeded", outcome="success", ip=client.ip, account=account.id,
        user_agent=client.user_agent, factor=factor,
    )  # fmt: skip
    SIGN_INS.labels(factor=factor).inc()
    return SignedIn(
        account=account,
        session=new_session,
        device_cookie=devices.issue(ctx.keyring, _folded(account), account.credential_epoch),
    )


def _log_wrong_code(client: Client, account_id: uuid.UUID, attempts_left: int) -> None:
    auth_event(
        "code_failed", outcome="failure", ip=client.ip, account=account_id,
        user_agent=client.user_agent, attempts_left=attempts_left,
    )  # fmt: skip
    if attempts_left == 0:
        auth_event("challenge_exhausted", outcome="refused", ip=client.ip, account=account_id)


async def _why_unusable(
    session: AsyncSession, challenge_id: uuid.UUID, *, now: datetime, max_attempts: int
) -> Exception:
    """Why count_attempt found nothing to spend: unknown, used, expired or exhausted."""
    challenge = await repository.get(session, challenge_id)
    if challenge is None:
        return ChallengeNotFound()
    return rules.unusable(challenge, now=now, max_attempts=max_attempts) or ChallengeExhausted()


# --- resend and status ------------------------------------------------------------------


async def resend_code(
    session: AsyncSession,
    ctx: ServiceContext,
    *,
    challenge_id: uuid.UUID,
    channel: str | None,
    client: Client,
) -> ChallengeView:
    """A new code replaces the old one, on `channel` when given, else on the last code's;
    the failure count carries over. An SMS over its budgets goes by e-mail."""
    now = ctx.clock.now()
    challenge = await repository.get_for_update(session, challenge_id)
    if challenge is None:
        raise ChallengeNotFound()
    if refusal := rules.factor_refusal(challenge):  # before any cooldown is considered
        raise refusal
    if refusal := rules.resend_refusal(challenge, now=now, settings=ctx.settings):
        raise refusal
    account = await accounts.get_by_id(session, challenge.account_id)
    if account is None or account.disabled:
        raise ChallengeExpired(ChallengeExpired.INVALIDATED)
    if refusal := rules.channel_refusal(account, channel):
        raise refusal
    route = await sms_guard.channel_for(
        ctx, account=account, channel=channel or challenge.channel, ip=client.ip,
        purpose="login_resend",
    )  # fmt: skip
    await _reissue(session, ctx, challenge, account, channel=route.channel, now=now)
    auth_event(
        "code_resent", outcome="challenge", ip=client.ip, account=account.id,
        channel=challenge.channel, resends=challenge.resends,
    )  # fmt: skip
    return _view(ctx, challenge, account, route.sms_unavailable)


async def _reissue(
    session: AsyncSession,
    ctx: ServiceContext,
    challenge: LoginChallenge,
    account: Account,
    *,
    channel: str,
    now: datetime,
) -> None:
    """Replace the challenge's code, on `channel`, and queue it."""
    challenge.channel = channel
    challenge.factor = channel
    begun = await factors.begin(
        ctx, channel, account, challenge_id=challenge.id, channel=channel, now=now
    )
    assert begun.message is not None  # a code step sends its code
    challenge.code_hash = begun.code_hash
    challenge.resends += 1
    challenge.last_sent_at = now
    # Each code gets its full lifetime; the "not completed" notice moves with it.
    challenge.expires_at = now + ctx.settings.login_otp_ttl
    if challenge.notice_id is not None:
        await outbox.cancel(session, challenge.notice_id, now=now)
    challenge.message_id = await outbox.enqueue(session, begun.message)
    challenge.notice_id = await outbox.enqueue(session, _incomplete_notice(ctx, account, challenge))
    await session.flush()


async def describe_challenge(
    session: AsyncSession, ctx: ServiceContext, challenge_id: uuid.UUID
) -> ChallengeStatus:
    now = ctx.clock.now()
    challenge = await repository.get(session, challenge_id)
    if challenge is None or challenge.consumed_at is not None or challenge.expires_at <= now:
        raise ChallengeNotFound()
    account = await accounts.get_by_id(session, challenge.account_id)
    if account is None:
        raise ChallengeNotFound()
    message_id = challenge.message_id
    status = await outbox.message_status(session, message_id) if message_id else None
    return ChallengeStatus(
        view=_view(ctx, challenge, account), delivery=rules.delivery_state(status)
    )


# --- messages -------------------------------------------------------------------------


def _view(
    ctx: ServiceContext,
    challenge: LoginChallenge,
    account: Account,
    sms_unavailable: sms_guard.SmsUnavailable | None = None,
    answer: Mapping[str, object] | None = None,
) -> ChallengeView:
    return ChallengeView(
        challenge_id=challenge.id,
        factor=challenge.factor,
        factors=list(challenge.factors),
        channel=challenge.channel,
        destination=mask_destination(challenge.channel, email=account.email, phone=account.phone),
        expires_at=challenge.expires_at,
        resend_after=rules.resend_after(challenge, ctx.settings),
        attempts_left=rules.attempts_left(
            challenge, max_attempts=ctx.settings.login_otp_max_attempts
        ),
        sms_unavailable=sms_unavailable,
        answer=answer or {},
    )


def _incomplete_notice(
    ctx: ServiceContext, account: Account, challenge: LoginChallenge
) -> OutboxMessage:
    """E-mail sent at expiry unless the login completes first (then it is cancelled)."""
    return account_message(
        keyring=ctx.keyring,
        account=account,
        template="login_incomplete",
        params={
            "login": account.login,
            **time_params(challenge.last_sent_at, ctx.settings.timezone),
            "ip": challenge.ip,
        },
        now=challenge.last_sent_at,
        send_after=challenge.expires_at,
    )


def _confirmation(
    ctx: ServiceContext,
    account: Account,
    client: Client,
    now: datetime,
    not_me_url: str,
    factor_label: str,
) -> OutboxMessage:
    return account_message(
        keyring=ctx.keyring,
        account=account,
        template="login_confirmation",
        params={
            "login": account.login,
            **time_params(now, ctx.settings.timezone),
            "ip": client.ip,
            "user_agent": describe_device(client.user_agent),  # never the signer's own words
            "not_me_url": not_me_url,
            "factor": factor_label,
        },
        now=now,
        secret_params=("not_me_url",),  # the link acts on the account: sealed like a code
    )


def _attack_notice(
    ctx: ServiceContext, account: Account, ips: list[str], now: datetime
) -> OutboxMessage:
    return account_message(
        keyring=ctx.keyring,
        account=account,
        template="attack_notice",
        params={
            "login": account.login,
            **time_params(now, ctx.settings.timezone),
            "ips": ", ".join(ips) or "-",
        },
        now=now,
    )
