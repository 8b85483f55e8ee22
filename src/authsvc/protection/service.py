"""Account protection: "this wasn't me", password change and password reset.

Each is one function that checks, then acts; every act writes a security event and
tells the customer by e-mail through the outbox, in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.accounts import repository as accounts
from authsvc.accounts.errors import AccountNotFound, WeakPassword
from authsvc.accounts.models import Account
from authsvc.accounts.policy import check_new_password
from authsvc.auth_codes import service as auth_codes
from authsvc.contacts import service as contacts
from authsvc.context import ServiceContext
from authsvc.core.codes import typed_code_matches
from authsvc.core.db import keep_and_refuse
from authsvc.delivery import outbox
from authsvc.delivery.models import OutboxMessage
from authsvc.delivery.notify import account_message, code_message, time_params
from authsvc.factors import service as factors
from authsvc.links import service as links
from authsvc.login.errors import InvalidCode
from authsvc.login.service import Client, reauthenticate
from authsvc.ops.events import auth_event
from authsvc.protection import repository, rules
from authsvc.protection.errors import LinkUnusable, ResetExpired, ResetNotFound
from authsvc.protection.models import PasswordReset, SecurityEvent
from authsvc.sessions import repository as sessions
from authsvc.sessions.models import UserSession
from authsvc.sms_guard import service as sms_guard
from authsvc.throttling import rules as throttle_rules
from authsvc.throttling import service as throttling
from authsvc.throttling.errors import TooManyAttempts

RESET_PURPOSE = "password-reset"


# --- "this wasn't me" -------------------------------------------------------------------


async def link_state(session: AsyncSession, ctx: ServiceContext, token: str) -> links.State:
    """What the link's page says before anything is done (a GET changes nothing)."""
    return await links.state(session, ctx.keyring, token, now=ctx.clock.now())


async def disown(session: AsyncSession, ctx: ServiceContext, *, token: str, client: Client) -> None:
    """The customer did not make the login (or the code, or the change) the e-mail
    reported: end every session, revoke the authorization code, put back a changed
    contact, and require a new password before any login can finish. Raises
    LinkUnusable for a used, expired or unknown link."""
    now = ctx.clock.now()
    link = await links.redeem(session, ctx.keyring, token, now=now)
    if link is None:
        raise LinkUnusable(await links.state(session, ctx.keyring, token, now=now))
    # A contact change reported to the old address is undone first, so the account's
    # codes, its password reset and the notice below reach that address again.
    undone = link.subject_kind == "contact" and await contacts.undo(
        session, ctx, link.subject_id, ip=client.ip
    )
    account = await accounts.get_by_id(session, link.account_id)
    if account is None:  # deleted since: nothing left to protect
        raise LinkUnusable("unknown")
    ended = await sessions.revoke_all(session, account.id, now=now)
    await auth_codes.revoke(session, account_id=account.id, now=now, client_ip=client.ip)
    await accounts.require_password_reset(session, account.id, now=now)
    detail = f"{link.subject_kind} {link.subject_id}; {ended} sessions ended"
    if undone:
        detail += "; contact change undone"
    await _record_and_tell(session, ctx, account, client, "not_me", detail=detail, now=now)
    auth_event(
        "not_me_confirmed", outcome="success", ip=client.ip, account=account.id,
        user_agent=client.user_agent, subject=link.subject_kind, sessions_ended=ended,
    )  # fmt: skip


# --- password change ----------------------------------------------------------------------


async def change_password(
    session: AsyncSession,
    ctx: ServiceContext,
    *,
    account: Account,
    current: UserSession,
    password: str,
    new_password: str,
    client: Client,
) -> None:
    """Set a new password for a signed-in customer who knows the current one; every other
    session ends. The current password is throttled like any re-authentication."""
    check_new_password(new_password, ctx.settings, login=account.login)
    await reauthenticate(session, ctx, account=account, password=password, client=client)
    new_hash = await ctx.hasher.hash(new_password)
    now = ctx.clock.now()
    await accounts.replace_password(session, account.id, new_hash, now=now)
    ended = await sessions.revoke_all(session, account.id, now=now, keep=current.id)
    # Whoever knew the old password may have made a code in a session of their own.
    await auth_codes.revoke(session, account_id=account.id, now=now, client_ip=client.ip)
    detail = f"{ended} other sessions ended"
    await _record_and_tell(session, ctx, account, client, "password_changed", detail, now=now)
    auth_event(
        "password_changed", outcome="success", ip=client.ip, account=account.id,
        user_agent=client.user_agent, sessions_ended=ended,
    )  # fmt: skip


# --- password reset -------------------------------------------------------------------------


@dataclass(frozen=True)
class ResetView:
    reset_id: uuid.UUID
    expires_at: datetime
    resend_after: datetime


async def request_reset(ctx: ServiceContext, *, login: str, client: Client) -> ResetView:
    """Open a reset and send its code by the account's channel (by e-mail when its SMS
    is over budget; the answer does not say so, as it says nothing of the account).

    Whether or not `login` exists, the same statements run and the same answer comes
    back: a reset row is written either way (without an account when there is none), so
    even the attempts later spent on it count the same; and so is the code's message,
    which for a login nobody has is rolled back (`_queue_code`).
    """
    now = ctx.clock.now()
    rate_key = _login_rate_key(login)
    async with ctx.db.transaction() as session:
        await _refuse_over_reset_rate(session, ctx, rate_key, client.ip, now=now)
        found = await accounts.get_by_login(session, login)
        account = found if found is not None and not found.disabled else None
        code = ctx.codes()
        route = sms_guard.EMAIL
        if account is not None:
            route = await sms_guard.channel_for(
                ctx, account=account, channel=account.channel, ip=client.ip,
                purpose="password_reset",
            )  # fmt: skip
        reset = PasswordReset(
            id=uuid.uuid4(),
            account_id=account.id if account else None,
            channel=route.channel,
            created_at=now,
            last_sent_at=now,
            expires_at=now + ctx.settings.password_reset_ttl,
            attempts=0,
            resends=0,
            ip=client.ip,
            rate_key=rate_key,
        )
        reset.code_hash = ctx.keyring.sign(RESET_PURPOSE, str(reset.id), code)
        await repository.insert_reset(session, reset)
        await _queue_code(session, ctx, account, reset, code)
    auth_event(
        "password_reset_requested", outcome="challenge", ip=client.ip,
        account=account.id if account else None, user_agent=client.user_agent,
    )  # fmt: skip
    return _reset_view(ctx, reset)


def _login_rate_key(login: str) -> str:
    return "reset:" + throttle_rules.login_key(login)


async def _refuse_over_reset_rate(
    session: AsyncSession,
    ctx: ServiceContext,
    login_rate_key: str | None,
    ip: str,
    *,
    now: datetime,
) -> None:
    """Each request and each resend sends a message: at most so many per typed login
    (known or not, so the refusal says nothing about existence) and per client address.
    The count stays when the refusal rolls the rest back."""
    settings = ctx.settings
    window = settings.password_reset_window
    keys = [("reset:" + throttle_rules.ip_key(ip), settings.password_reset_ip_limit)]
    if login_rate_key is not None:  # None: a reset opened before its key was kept
        keys.insert(0, (login_rate_key, settings.password_reset_limit))
    for key, limit in keys:
        wait = await throttling.count_rate(session, key, limit=limit, window=window, now=now)
        if wait is not None:
            raise await keep_and_refuse(session, TooManyAttempts.over_rate(wait))


async def _queue_code(
    session: AsyncSession,
    ctx: ServiceContext,
    account: Account | None,
    reset: PasswordReset,
    code: str,
) -> None:
    """Queue the code's message for `account`. For a login nobody has, the same message is
    built, sealed and written, to a stand-in, then rolled back to its savepoint: both
    answers cost the same work, so their timing does not tell whether the login exists."""
    message = _reset_code_message(ctx, account or _STAND_IN, reset, code)
    if account is None:
        message.account_id = None  # the stand-in is no row
    await session.flush()  # the caller's own writes stay out of the savepoint
    savepoint = await session.begin_nested()
    await outbox.enqueue(session, message)
    await session.flush()
    if account is None:
        await savepoint.rollback()
    else:
        await savepoint.commit()


# Whom a reset of a login nobody has "writes" to; never stored (see _queue_code).
_STAND_IN = Account(
    id=uuid.UUID(int=0), login="-", email="nobody@invalid", phone=None, channel="email",
    locale="en",
)  # fmt: skip


async def resend_reset_code(
    session: AsyncSession, ctx: ServiceContext, *, reset_id: uuid.UUID, client: Client
) -> ResetView:
    """A new code replaces the old one, under the login code's resend rules, on the last
    code's channel (an SMS over budget goes by e-mail); each resend counts against the
    reset rates of the typed login and of the client address."""
    now = ctx.clock.now()
    reset = await repository.get_reset_for_update(session, reset_id)
    if reset is None:
        raise ResetNotFound()
    if refusal := rules.resend_refusal(reset, now=now, settings=ctx.settings):
        raise refusal
    await _refuse_over_reset_rate(session, ctx, reset.rate_key, client.ip, now=now)
    code = ctx.codes()
    reset.code_hash = ctx.keyring.sign(RESET_PURPOSE, str(reset.id), code)
    reset.resends += 1
    reset.last_sent_at = now
    # The same lookup and message for a reset of a login nobody has (see _queue_code).
    account = await accounts.get_by_id(session, reset.account_id or _STAND_IN.id)
    if account is not None:
        route = await sms_guard.channel_for(
            ctx, account=account, channel=reset.channel, ip=client.ip,
            purpose="password_reset_resend",
        )  # fmt: skip
        reset.channel = route.channel
    await _queue_code(session, ctx, account, reset, code)
    auth_event(
        "password_reset_resent", outcome="challenge", ip=client.ip,
        account=reset.account_id, resends=reset.resends,
    )  # fmt: skip
    return _reset_view(ctx, reset)


async def confirm_reset(
    session: AsyncSession,
    ctx: ServiceContext,
    *,
    reset_id: uuid.UUID,
    code: str,
    new_password: str,
    client: Client,
) -> None:
    """Set the new password when the code matches: every session ends, the account's
    throttling is cleared, and a forced reset is lifted. It does not sign in."""
    now = ctx.clock.now()
    settings = ctx.settings
    attempt = await repository.count_attempt(
        session, reset_id, now=now, max_attempts=settings.password_reset_max_attempts
    )
    if attempt is None:
        raise await _why_unusable(session, ctx, reset_id, now=now)
    # A reset without an account never matches: no code was sent for it.
    matched = _code_matches(ctx, reset_id, code, attempt.code_hash)
    account = None
    if matched and attempt.account_id is not None:
        account = await accounts.get_by_id(session, attempt.account_id)
    attempts_left = settings.password_reset_max_attempts - attempt.attempts
    if account is None or account.disabled:
        auth_event(
            "password_reset_code_failed", outcome="failure", ip=client.ip,
            account=attempt.account_id, attempts_left=attempts_left,
        )  # fmt: skip
        raise await keep_and_refuse(session, InvalidCode(attempts_left=attempts_left))
    # The policy only after the code: its login rule must not tell a stranger that the
    # login exists. A weak password spends the attempt but not the reset.
    try:
        check_new_password(new_password, settings, login=account.login)
    except WeakPassword as weak:
        weak.extra["attempts_left"] = attempts_left  # the attempt is spent: say what remains
        raise await keep_and_refuse(session, weak) from None
    if not await repository.consume(session, reset_id, now=now):
        raise ResetExpired.used()
    await _apply_reset(session, ctx, account, new_password, client, now=now)


async def _apply_reset(
    session: AsyncSession,
    ctx: ServiceContext,
    account: Account,
    new_password: str,
    client: Client,
    *,
    now: datetime,
) -> None:
    new_hash = await ctx.hasher.hash(new_password)
    await accounts.replace_password(session, account.id, new_hash, now=now)
    await repository.end_open_resets(session, account.id, now=now)
    ended = await sessions.revoke_all(session, account.id, now=now)
    await auth_codes.revoke(session, account_id=account.id, now=now, client_ip=client.ip)
    # The attacker's back-off on this login ends with the password they were guessing.
    await throttling.reset(session, throttle_rules.login_key(account.login))
    detail = f"{ended} sessions ended"
    await _record_and_tell(session, ctx, account, client, "password_reset", detail, now=now)
    auth_event(
        "password_reset_completed", outcome="success", ip=client.ip, account=account.id,
        user_agent=client.user_agent, sessions_ended=ended,
    )  # fmt: skip


def _code_matches(ctx: ServiceContext, reset_id: uuid.UUID, typed: str, stored: bytes) -> bool:
    return typed_code_matches(ctx.keyring, RESET_PURPOSE, str(reset_id), typed, stored)


async def _why_unusable(
    session: AsyncSession, ctx: ServiceContext, reset_id: uuid.UUID, *, now: datetime
) -> Exception:
    reset = await repository.get_reset(session, reset_id)
    if reset is None:
        return ResetNotFound()
    return rules.unusable(reset, now=now, settings=ctx.settings) or ResetExpired.exhausted()


def _reset_view(ctx: ServiceContext, reset: PasswordReset) -> ResetView:
    return ResetView(
        reset_id=reset.id,
        expires_at=reset.expires_at,
        resend_after=rules.resend_after(reset, ctx.settings),
    )


# --- records and notices --------------------------------------------------------------------


async def reset_factors(ctx: ServiceContext, *, login: str, reason: str) -> Account:
    """The operator's recovery for a customer who lost the app: clear the app and the
    recovery codes (the customer signs in with codes again), audit it with the reason,
    and tell the customer."""
    async with ctx.db.transaction() as session:
        account = await accounts.get_by_login(session, login)
        if account is None:
            raise AccountNotFound()
        now = ctx.clock.now()
        await factors.reset_factors(session, ctx, account)
        event = SecurityEvent(
            id=uuid.uuid4(), account_id=account.id, kind="factors_reset", created_at=now,
            ip="-", user_agent="authsvc accounts reset-factors", detail=reason[:1000],
        )  # fmt: skip
        await repository.record_event(session, event)
    auth_event("factors_reset", outcome="success", account=account.id, operator=True)
    return account


# What each kind of security event tells the customer (templates/<locale>.toml).
NOTICES = {
    "not_me": "not_me_done",
    "password_changed": "password_changed",
    "password_reset": "password_reset_done",
}


async def _record_and_tell(
    session: AsyncSession,
    ctx: ServiceContext,
    account: Account,
    client: Client,
    kind: str,
    detail: str,
    *,
    now: datetime,
) -> None:
    """Write the security event and queue the customer's e-mail about it."""
    event = SecurityEvent(
        id=uuid.uuid4(),
        account_id=account.id,
        kind=kind,
        created_at=now,
        ip=client.ip,
        user_agent=client.user_agent[:512],
        detail=detail,
    )
    await repository.record_event(session, event)
    message = account_message(
        keyring=ctx.keyring,
        account=account,
        template=NOTICES[kind],
        params={"login": account.login, **time_params(now, ctx.settings.timezone), "ip": client.ip},
        now=now,
    )
    await outbox.enqueue(session, message)


def _reset_code_message(
    ctx: ServiceContext, account: Account, reset: PasswordReset, code: str
) -> OutboxMessage:
    return code_message(
        keyring=ctx.keyring,
        account=account,
        template="password_reset_code",
        code=code,
        valid_for=ctx.settings.password_reset_ttl,
        now=reset.last_sent_at,
        channel=reset.channel,
    )
