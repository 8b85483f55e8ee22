"""`authsvc purge`: delete what is past its retention, in small batches, while serving.

Each table has one rule (a small function below) saying which rows may go. Rows are
deleted in batches of `batch_size`, each batch its own short transaction that skips
rows someone else holds (`FOR UPDATE SKIP LOCKED`), along an index, so a purge never
blocks logins or verifications for long and can run at any time, from any replica.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, delete, or_, select, text
from sqlalchemy.orm import InstrumentedAttribute

from authsvc.auth_codes.models import AuthCode
from authsvc.config import Settings
from authsvc.contacts.models import ContactChange
from authsvc.core.db import Database
from authsvc.delivery.models import FINISHED_STATES, OutboxMessage
from authsvc.factors.models import PasskeyChallenge
from authsvc.links.models import ActionLink
from authsvc.login.models import LoginChallenge
from authsvc.protection.models import PasswordReset, SecurityEvent
from authsvc.sessions.models import UserSession
from authsvc.sms_guard.models import SmsBudgetCounter
from authsvc.support.models import Verification
from authsvc.throttling.models import ThrottleCounter

log = logging.getLogger("authsvc.purge")

DEFAULT_BATCH_SIZE = 1000
# Counters idle this much longer than their longest window are certainly forgotten.
COUNTER_MARGIN = timedelta(hours=1)


@dataclass(frozen=True)
class Target:
    """Rows of one table that may be deleted, found along `order`'s index."""

    table: str
    key: InstrumentedAttribute[Any]
    where: ColumnElement[bool]
    order: InstrumentedAttribute[Any]


Rule = Callable[[datetime, Settings], Target]


def expired_login_challenges(now: datetime, settings: Settings) -> Target:
    # A consumed challenge expires a few minutes later anyway.
    return Target(
        "login_challenges",
        LoginChallenge.id,
        LoginChallenge.expires_at < now - settings.retention_expired,
        LoginChallenge.expires_at,
    )


def expired_passkey_challenges(now: datetime, settings: Settings) -> Target:
    # Good for 5 minutes; a used one is gone already (deleted by the statement that uses it).
    return Target(
        "passkey_challenges",
        PasskeyChallenge.id,
        PasskeyChallenge.expires_at < now - settings.retention_expired,
        PasskeyChallenge.expires_at,
    )


def dead_sessions(now: datetime, settings: Settings) -> Target:
    cutoff = now - settings.retention_expired
    # Every session dead before `cutoff` (idle, revoked or expired) has
    # expires_at < cutoff + absolute lifetime: that bound keeps the scan on the index.
    return Target(
        "sessions",
        UserSession.id,
        (UserSession.expires_at < cutoff + settings.session_absolute_lifetime)
        & or_(
            UserSession.expires_at < cutoff,
            UserSession.idle_expires_at < cutoff,
            UserSession.revoked_at < cutoff,
        ),
        UserSession.expires_at,
    )


def dead_auth_codes(now: datetime, settings: Settings) -> Target:
    # A revoked code is revoked before it expires: it goes at most an hour later.
    return Target(
        "auth_codes",
        AuthCode.id,
        AuthCode.expires_at < now - settings.retention_expired,
        AuthCode.expires_at,
    )


def finished_messages(now: datetime, settings: Settings) -> Target:
    return Target(
        "outbox_messages",
        OutboxMessage.id,
        OutboxMessage.state.in_(FINISHED_STATES)
        & (OutboxMessage.finished_at < now - settings.retention_messages),
        OutboxMessage.finished_at,
    )


def idle_throttle_counters(now: datetime, settings: Settings) -> Target:
    longest = max(
        settings.throttle_window,
        settings.throttle_max_delay,
        settings.throttle_ip_window,
        settings.throttle_ip_max_delay,
        settings.auth_code_generation_window,
        settings.support_key_rate_window,
        settings.password_reset_window,
        settings.contact_change_window,
    )
    return Target(
        "throttle_counters",
        ThrottleCounter.key,
        (ThrottleCounter.updated_at < now - longest - COUNTER_MARGIN)
        & or_(ThrottleCounter.blocked_until.is_(None), ThrottleCounter.blocked_until < now),
        ThrottleCounter.updated_at,
    )


def old_audit_rows(now: datetime, settings: Settings) -> Target:
    return Target(
        "auth_code_verifications",
        Verification.id,
        Verification.verified_at < now - settings.retention_audit,
        Verification.verified_at,
    )


def expired_password_resets(now: datetime, settings: Settings) -> Target:
    return Target(
        "password_resets",
        PasswordReset.id,
        PasswordReset.expires_at < now - settings.retention_expired,
        PasswordReset.expires_at,
    )


def expired_contact_changes(now: datetime, settings: Settings) -> Target:
    # Kept while a "this wasn't me" link of its notice may still put the old address back.
    keep = max(settings.retention_expired, settings.not_me_link_ttl)
    return Target(
        "contact_changes",
        ContactChange.id,
        ContactChange.expires_at < now - keep,
        ContactChange.expires_at,
    )


def expired_action_links(now: datetime, settings: Settings) -> Target:
    # A used link is used before it expires: it goes at most a link lifetime later.
    return Target(
        "action_links",
        ActionLink.id,
        ActionLink.expires_at < now - settings.retention_expired,
        ActionLink.expires_at,
    )


def old_security_events(now: datetime, settings: Settings) -> Target:
    return Target(
        "security_events",
        SecurityEvent.id,
        SecurityEvent.created_at < now - settings.retention_audit,
        SecurityEvent.created_at,
    )


def past_sms_budget_hours(now: datetime, settings: Settings) -> Target:
    # Only the current hour counts; past ones stay a while for an operator to look back.
    # Rows of one hour go together (the hour is not unique): none of them is ever locked.
    return Target(
        "sms_budget_counters",
        SmsBudgetCounter.hour,
        SmsBudgetCounter.hour < now - settings.retention_expired,
        SmsBudgetCounter.hour,
    )


RULES: tuple[Rule, ...] = (
    expired_login_challenges,
    expired_passkey_challenges,
    dead_sessions,
    dead_auth_codes,
    finished_messages,
    idle_throttle_counters,
    old_audit_rows,
    expired_password_resets,
    expired_contact_changes,
    expired_action_links,
    old_security_events,
    past_sms_budget_hours,
)


async def delete_in_batches(db: Database, target: Target, *, batch_size: int) -> int:
    """Delete the target's rows, `batch_size` per transaction; return how many went."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    chosen = (
        select(target.key)
        .where(target.where)
        .order_by(target.order)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    statement = delete(target.key.class_).where(target.key.in_(chosen.scalar_subquery()))
    total = 0
    while True:
        async with db.transaction() as session:
            # Never queue behind a migration's table lock for long.
            await session.execute(text("SET LOCAL lock_timeout = '5s'"))
            result = cast(CursorResult[Any], await session.execute(statement))
            deleted = result.rowcount
        total += deleted
        if deleted < batch_size:
            return total


async def purge(
    db: Database,
    *,
    now: datetime,
    settings: Settings,
    batch_size: int = DEFAULT_BATCH_SIZE,
    rules: Sequence[Rule] = RULES,
) -> dict[str, int]:
    """Apply every rule; return rows deleted per table."""
    report: dict[str, int] = {}
    for rule in rules:
        target = rule(now, settings)
        report[target.table] = await delete_in_batches(db, target, batch_size=batch_size)
        log.info("purge table=%s deleted=%d", target.table, report[target.table])
    return report
