"""Which channel a code goes by: SMS only to a number that can be texted and within every
budget of the hour; otherwise e-mail, so the customer still gets the code.

Every path that texts a code asks first: the login, its resends, the password reset and
its resends ask `channel_for` (the account's number); the phone change asks `sms_to` (the
new number, which its code must reach).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.accounts import phones
from authsvc.accounts.models import Account
from authsvc.context import ServiceContext
from authsvc.ops.events import auth_event
from authsvc.ops.metrics import SMS_BUDGET_REFUSALS
from authsvc.sms_guard import repository, rules
from authsvc.sms_guard.models import BUDGETS

# Why a code meant for SMS went by e-mail, as `/login` says it (`sms_unavailable`).
SmsUnavailable = Literal["limited", "number_not_accepted"]
Purpose = Literal[
    "login", "login_resend", "password_reset", "password_reset_resend", "phone_change"
]

for _budget in BUDGETS:  # every series exists from the start, so rate() sees the first one
    SMS_BUDGET_REFUSALS.labels(budget=_budget)


@dataclass(frozen=True)
class Route:
    """How one code goes out."""

    channel: Literal["email", "sms"]
    sms_unavailable: SmsUnavailable | None = None  # set when SMS was asked for and refused


EMAIL = Route("email")
SMS = Route("sms")


async def channel_for(
    ctx: ServiceContext, *, account: Account, channel: str, ip: str, purpose: Purpose
) -> Route:
    """The channel of a code for `account` asked for on `channel` by a client at `ip`: SMS
    when asked for, to a number that can be texted, and within every budget (then counted,
    in a statement of its own); else e-mail, with the reason."""
    if channel != "sms" or account.phone is None:
        return EMAIL
    return await sms_to(ctx, phone=account.phone, account_id=account.id, ip=ip, purpose=purpose)


async def sms_to(
    ctx: ServiceContext, *, phone: str, account_id: uuid.UUID, ip: str, purpose: Purpose
) -> Route:
    """SMS to `phone` when codes can be texted to it and every budget of the hour has room
    (then counted); else e-mail with the reason. A code that must reach this very number
    (a phone change's, sent to the new number) cannot go by e-mail: that caller refuses
    when the route is not SMS."""
    number = phones.check(phone, ctx.settings.sms_countries)
    if not isinstance(number, phones.Textable):
        # A stored number that AUTHSVC_SMS_COUNTRIES no longer takes (it changed since the
        # number was accepted; migration 0009 moved the older ones aside).
        auth_event(
            "sms_number_refused", outcome="email", ip=ip, account=account_id, reason=number,
            purpose=purpose,
        )  # fmt: skip
        return Route("email", "number_not_accepted")
    spent = await reserve(ctx, number=number, ip=ip)
    if spent is None:
        return SMS
    SMS_BUDGET_REFUSALS.labels(budget=spent).inc()
    auth_event("sms_limited", outcome="email", ip=ip, account=account_id, budget=spent,
               purpose=purpose)  # fmt: skip
    return Route("email", "limited")


async def reserve(ctx: ServiceContext, *, number: phones.Textable, ip: str) -> str | None:
    """Count one SMS to `number` caused by `ip` against every budget of this hour, in a
    statement of its own; None when counted, else the budget that is spent (nothing is
    counted then)."""
    budgets = rules.budgets_for(number, ip, ctx.settings)
    hour = rules.hour_of(ctx.clock.now())
    async with ctx.db.autocommit() as session:
        return await repository.reserve(session, budgets, hour=hour)


@dataclass(frozen=True)
class BudgetUse:
    budget: str
    subject: str
    used: int
    allowed: int


@dataclass(frozen=True)
class Status:
    hour: datetime  # the window's start
    uses: list[BudgetUse]

    @property
    def ends(self) -> datetime:
        return self.hour + rules.HOUR


async def status(session: AsyncSession, ctx: ServiceContext, *, top: int) -> Status:
    """Each budget's use this hour: the service's, every allowed country's, and the `top`
    busiest prefixes, numbers and client addresses."""
    hour = rules.hour_of(ctx.clock.now())
    found = await repository.usage(session, hour=hour, top=top)
    allowed = rules.limits(ctx.settings)
    used = {(use.budget, use.subject): use.used for use in found}
    always = [("service", rules.SERVICE)] + [("country", c) for c in ctx.settings.sms_countries]
    keys = always + [(u.budget, u.subject) for u in found if (u.budget, u.subject) not in always]
    uses = [BudgetUse(b, s, used.get((b, s), 0), allowed[b]) for b, s in keys]
    uses.sort(key=lambda use: BUDGETS.index(use.budget))  # stable: the busiest first within
    return Status(hour, uses)
