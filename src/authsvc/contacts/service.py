"""Verified contacts: a new e-mail address or phone number takes effect only when the code
sent to it is confirmed, and the old address is told, with a "this wasn't me" link.
Check, then act; the rules are in rules.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.accounts import phones
from authsvc.accounts import repository as accounts
from authsvc.accounts.errors import InvalidEmail, InvalidPhone
from authsvc.accounts.models import Account
from authsvc.accounts.service import normalise_email
from authsvc.contacts import repository, rules
from authsvc.contacts.errors import ChangeNotFound, InvalidChangeCode, SmsLimited
from authsvc.contacts.models import ContactChange
from authsvc.context import ServiceContext
from authsvc.core.codes import typed_code_candidates
from authsvc.core.db import keep_and_refuse
from authsvc.delivery import outbox
from authsvc.delivery.notify import account_message, time_params
from authsvc.links import service as links
from authsvc.ops.events import auth_event
from authsvc.sms_guard import service as sms_guard
from authsvc.throttling import service as throttling
from authsvc.throttling.errors import TooManyAttempts


@dataclass(frozen=True)
class Pending:
    change_id: uuid.UUID
    expires_at: datetime


async def request_email(
    session: AsyncSession, ctx: ServiceContext, account: Account, *, email: str, ip: str
) -> Pending:
    """Send a code to a new e-mail address; the account keeps the old one until the code
    is confirmed. A bad or unchanged address changes nothing."""
    new = normalise_email(email)
    if rules.same_address("email", account.email, new):
        raise InvalidEmail("This is the account's e-mail address already.", reason="unchanged")
    await _refuse_over_rate(session, ctx, account)
    return await _open(session, ctx, account, kind="email", new_value=new, channel="email", ip=ip)


async def request_phone(
    session: AsyncSession, ctx: ServiceContext, account: Account, *, phone: str, ip: str
) -> Pending:
    """Text a code to a new phone number (a mobile of an allowed country), counted against
    the SMS budgets; refused when none can be sent (its code has no other way to reach
    that number). A bad or unchanged number changes nothing."""
    number = phones.textable(phone, ctx.settings.sms_countries)
    if rules.same_address("phone", account.phone, number.e164):
        raise InvalidPhone("This is the account's phone number already.", reason="unchanged")
    await _refuse_over_rate(session, ctx, account)  # before the SMS budgets count it
    route = await sms_guard.sms_to(
        ctx, phone=number.e164, account_id=account.id, ip=ip, purpose="phone_change"
    )
    if route.channel != "sms":
        auth_event("contact_change_refused", outcome="failure", ip=ip, account=account.id,
                   kind="phone", reason=route.sms_unavailable)  # fmt: skip
        raise SmsLimited(retry_after=rules.sms_retry_after(ctx.clock.now()))
    return await _open(
        session, ctx, account, kind="phone", new_value=number.e164, channel="sms", ip=ip
    )


async def _refuse_over_rate(session: AsyncSession, ctx: ServiceContext, account: Account) -> None:
    """Count one code to a new address against the account's rate; the count stays when
    the refusal rolls the rest back."""
    settings = ctx.settings
    wait = await throttling.count_rate(
        session, f"contact:{account.id}", limit=settings.contact_change_limit,
        window=settings.contact_change_window, now=ctx.clock.now(),
    )  # fmt: skip
    if wait is not None:
        raise await keep_and_refuse(session, TooManyAttempts.over_rate(wait))


async def _open(
    session: AsyncSession,
    ctx: ServiceContext,
    account: Account,
    *,
    kind: str,
    new_value: str,
    channel: str,
    ip: str,
) -> Pending:
    now = ctx.clock.now()
    settings = ctx.settings
    change_id = uuid.uuid4()
    code = ctx.codes()
    change = ContactChange(
        id=change_id, account_id=account.id, kind=kind, new_value=new_value,
        old_value=account.email if kind == "email" else account.phone,
        code_hash=ctx.keyring.sign(rules.PURPOSE, str(change_id), code), created_at=now,
        expires_at=now + settings.login_otp_ttl, attempts=0, ip=ip,
    )  # fmt: skip
    await repository.open_change(session, change)
    minutes = int(settings.login_otp_ttl.total_seconds() // 60)
    message = outbox.new_message(
        keyring=ctx.keyring, now=now, channel="sms" if channel == "sms" else "email",
        recipient=new_value, template="contact_code",
        params={"code": code, "expires_minutes": str(minutes)}, locale=account.locale,
        account_id=account.id, secret_params=("code",),
    )  # fmt: skip
    await outbox.enqueue(session, message)
    auth_event("contact_change_requested", outcome="pending", ip=ip, account=account.id,
               kind=kind)  # fmt: skip
    return Pending(change_id, change.expires_at)


async def confirm(
    session: AsyncSession,
    ctx: ServiceContext,
    account: Account,
    *,
    kind: str,
    change_id: uuid.UUID,
    code: str,
    ip: str,
) -> None:
    """Apply the change when the code matches (one attempt spent either way) and tell the
    old address, with a "this wasn't me" link."""
    now = ctx.clock.now()
    max_attempts = ctx.settings.login_otp_max_attempts
    candidates = typed_code_candidates(ctx.keyring, rules.PURPOSE, str(change_id), code)
    attempt = await repository.spend_attempt(
        session, change_id, account_id=account.id, kind=kind, candidates=candidates, now=now,
        max_attempts=max_attempts,
    )  # fmt: skip
    if attempt is None:
        raise await _why_unusable(session, ctx, account, kind=kind, change_id=change_id)
    if not attempt.matched:
        left = max_attempts - attempt.attempts
        auth_event("contact_change_code_failed", outcome="failure", ip=ip, account=account.id,
                   kind=kind, attempts_left=left)  # fmt: skip
        raise await keep_and_refuse(session, InvalidChangeCode(attempts_left=left))
    # Told first, while `account` still holds the old address.
    await _tell_old_address(session, ctx, account, kind=kind, change_id=change_id,
                            new_value=attempt.new_value, ip=ip, now=now)  # fmt: skip
    if kind == "email":
        await accounts.set_email(session, account.id, attempt.new_value, now=now)
    else:
        await accounts.set_phone(session, account.id, attempt.new_value, now=now)
    auth_event("contact_changed", outcome="success", ip=ip, account=account.id, kind=kind)


async def _why_unusable(
    session: AsyncSession, ctx: ServiceContext, account: Account, *, kind: str,
    change_id: uuid.UUID,
) -> Exception:  # fmt: skip
    change = await repository.get(session, change_id, account_id=account.id, kind=kind)
    if change is None:
        return ChangeNotFound()
    refusal = rules.unusable(change, now=ctx.clock.now(), settings=ctx.settings)
    return refusal if refusal is not None else ChangeNotFound()


async def _tell_old_address(
    session: AsyncSession,
    ctx: ServiceContext,
    account: Account,
    *,
    kind: str,
    change_id: uuid.UUID,
    new_value: str,
    ip: str,
    now: datetime,
) -> None:
    """The notice goes to the e-mail address the account had before (`account` is the
    row as it was), so an address taken over is not the only one told."""
    not_me = links.issue(
        ctx.keyring, ctx.settings, account_id=account.id, subject_kind="contact",
        subject_id=change_id, now=now,
    )  # fmt: skip
    await links.add(session, not_me)
    message = account_message(
        keyring=ctx.keyring, account=account,
        template="email_changed" if kind == "email" else "phone_changed",
        params={"login": account.login, "new_value": new_value, "ip": ip,
                **time_params(now, ctx.settings.timezone), "not_me_url": not_me.url},
        now=now, secret_params=("not_me_url",),
    )  # fmt: skip
    await outbox.enqueue(session, message)


async def undo(
    session: AsyncSession, ctx: ServiceContext, change_id: uuid.UUID, *, ip: str
) -> bool:
    """Put back the address a confirmed change replaced ("this wasn't me" from the old
    address: whoever changed it must not keep the account's codes and resets), unless
    the address was changed again since. True when it was put back."""
    change = await repository.get_applied(session, change_id)
    if change is None:
        return False
    now = ctx.clock.now()
    if change.kind == "email":
        assert change.old_value is not None  # an account always has an e-mail address
        done = await accounts.restore_email(
            session, change.account_id, expected=change.new_value, restored=change.old_value,
            now=now,
        )  # fmt: skip
    else:
        done = await accounts.restore_phone(
            session, change.account_id, expected=change.new_value, restored=change.old_value,
            now=now,
        )  # fmt: skip
    if done:
        auth_event("contact_change_undone", outcome="success", ip=ip,
                   account=change.account_id, kind=change.kind)  # fmt: skip
    return done
