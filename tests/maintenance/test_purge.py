"""Each purge rule deletes what is past its retention and keeps the rest."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from authsvc.accounts.models import Account
from authsvc.auth_codes.models import AuthCode
from authsvc.contacts.models import ContactChange
from authsvc.context import ServiceContext
from authsvc.delivery.models import OutboxMessage
from authsvc.delivery.outbox import enqueue, new_message
from authsvc.links.models import ActionLink
from authsvc.login.models import LoginChallenge
from authsvc.maintenance import purge as rules
from authsvc.maintenance.purge import purge
from authsvc.protection.models import PasswordReset, SecurityEvent
from authsvc.sessions.models import UserSession
from authsvc.sessions.service import start_session
from authsvc.support.models import Verification
from authsvc.throttling.models import ThrottleCounter
from tests.cli import run_cli
from tests.factories import make_account

DAY = timedelta(days=1)


async def _count(ctx: ServiceContext, model: type[object]) -> int:
    async with ctx.db.transaction() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def _purge(ctx: ServiceContext, rule: rules.Rule, now: datetime) -> int:
    report = await purge(ctx.db, now=now, settings=ctx.settings, rules=[rule], batch_size=2)
    [deleted] = report.values()
    return deleted


async def _challenge(ctx: ServiceContext, account: Account, expires_at: datetime) -> None:
    async with ctx.db.transaction() as session:
        challenge = LoginChallenge(
            id=uuid.uuid4(),
            account_id=account.id,
            code_hash=b"\0" * 32,
            channel="email",
            factor="email",
            factors=["email"],
            created_at=expires_at - timedelta(minutes=10),
            expires_at=expires_at,
            last_sent_at=expires_at - timedelta(minutes=10),
            attempts=0,
            resends=0,
            ip="203.0.113.7",
            user_agent="tests",
        )
        challenge.message_id = uuid.uuid4()
        session.add(challenge)


async def test_expired_login_challenges_go_after_the_retention(ctx: ServiceContext) -> None:
    account = await make_account(ctx)
    now = ctx.clock.now()
    retention = ctx.settings.retention_expired
    for age in (
        retention + DAY,
        retention + timedelta(minutes=1),
        retention - timedelta(minutes=1),
    ):
        await _challenge(ctx, account, expires_at=now - age)
    await _challenge(ctx, account, expires_at=now + timedelta(minutes=5))  # live
    assert await _purge(ctx, rules.expired_login_challenges, now) == 2
    assert await _count(ctx, LoginChallenge) == 2


async def _session(ctx: ServiceContext, account: Account, *, started: datetime) -> uuid.UUID:
    async with ctx.db.transaction() as session:
        new = await start_session(
            session,
            account_id=account.id,
            now=started,
            settings=ctx.settings,
            ip="203.0.113.7",
            user_agent="tests",
        )
    return new.record.id


async def test_expired_idle_and_revoked_sessions_go_after_the_retention(
    ctx: ServiceContext,
) -> None:
    account = await make_account(ctx)
    now = ctx.clock.now()
    retention = ctx.settings.retention_expired
    # Past its absolute lifetime long ago.
    await _session(ctx, account, started=now - retention - 2 * DAY)
    # Idle since its start a little more than the retention ago (its 12 h not yet over).
    await _session(ctx, account, started=now - retention - timedelta(hours=1))
    # Revoked just after it started, a little more than the retention ago.
    revoked = await _session(ctx, account, started=now - retention - timedelta(hours=2))
    # Revoked and idle, but only recently: kept.
    recent = await _session(ctx, account, started=now - retention + timedelta(hours=1))
    live = await _session(ctx, account, started=now)
    async with ctx.db.transaction() as session:
        for session_id, at in ((revoked, now - retention - timedelta(hours=2)), (recent, now)):
            await session.execute(
                update(UserSession).where(UserSession.id == session_id).values(revoked_at=at)
            )
    assert await _purge(ctx, rules.dead_sessions, now) == 3
    async with ctx.db.transaction() as session:
        kept = set((await session.execute(select(UserSession.id))).scalars())
    assert kept == {recent, live}


async def test_expired_and_revoked_auth_codes_go_after_the_retention(ctx: ServiceContext) -> None:
    account = await make_account(ctx)
    now = ctx.clock.now()
    retention = ctx.settings.retention_expired
    async with ctx.db.transaction() as session:
        for created, revoked in (
            # Expired long ago, revoked only when the next one was generated.
            (now - retention - 2 * DAY, now - 2 * DAY),
            (now - retention - 3 * DAY, now - retention - 3 * DAY),
            (now - retention + DAY, now - retention + DAY),  # revoked recently: kept
            (now, None),  # live: kept
        ):
            session.add(
                AuthCode(
                    account_id=account.id,
                    code_mac=b"\0" * 32,
                    created_at=created,
                    expires_at=created + timedelta(hours=1),
                    revoked_at=revoked,
                    revoke_reason="replaced" if revoked else None,
                )
            )
    assert await _purge(ctx, rules.dead_auth_codes, now) == 2
    async with ctx.db.transaction() as session:
        kept = (await session.execute(select(AuthCode.created_at))).scalars().all()
    assert sorted(kept) == [now - retention + DAY, now]


async def test_finished_messages_go_after_their_retention_queued_ones_stay(
    ctx: ServiceContext,
) -> None:
    now = ctx.clock.now()
    retention = ctx.settings.retention_messages
    ids = {}
    async with ctx.db.transaction() as session:
        for label in ("sent-old", "abandoned-old", "cancelled-old", "sent-new", "queued-old"):
            message = new_message(
                keyring=ctx.keyring,
                now=now - retention - DAY,
                channel="email",
                recipient="kim@example.com",
                template="auth_code_generated",
                params={
                    "login": "kim",
                    "time_utc": "t",
                    "time_local": "t",
                    "expires_utc": "t",
                    "expires_local": "t",
                    "ip": "203.0.113.7",
                    "not_me_url": "http://127.0.0.1:8000/not-me/t",
                },
                locale="en",
            )
            ids[label] = await enqueue(session, message)
        for label, message_id in ids.items():
            state = label.split("-")[0]
            finished = now - retention - timedelta(hours=1) if label.endswith("old") else now
            if state != "queued":
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == message_id)
                    .values(state=state, finished_at=finished, params=None)
                )
    assert await _purge(ctx, rules.finished_messages, now) == 3
    async with ctx.db.transaction() as session:
        kept = set((await session.execute(select(OutboxMessage.id))).scalars())
    assert kept == {ids["sent-new"], ids["queued-old"]}


async def test_idle_throttle_counters_go_once_every_window_is_over(ctx: ServiceContext) -> None:
    now = ctx.clock.now()
    settings = ctx.settings
    longest = max(settings.throttle_window, settings.auth_code_generation_window)
    async with ctx.db.transaction() as session:
        for key, updated, blocked in (
            ("login:ip:old", now - longest - rules.COUNTER_MARGIN - DAY, None),
            ("login:ip:recent", now - longest, None),
            ("login:ip:still-blocked", now - 2 * DAY, now + timedelta(minutes=5)),
        ):
            session.add(
                ThrottleCounter(
                    key=key,
                    count=3,
                    window_started_at=updated,
                    updated_at=updated,
                    blocked_until=blocked,
                )
            )
    assert await _purge(ctx, rules.idle_throttle_counters, now) == 1
    async with ctx.db.transaction() as session:
        kept = set((await session.execute(select(ThrottleCounter.key))).scalars())
    assert kept == {"login:ip:recent", "login:ip:still-blocked"}


async def _audit(ctx: ServiceContext, verified_at: datetime, n: int = 1) -> None:
    async with ctx.db.transaction() as session:
        for _ in range(n):
            session.add(
                Verification(
                    verified_at=verified_at,
                    support_key_id=uuid.uuid4(),
                    account_id=None,
                    result="no_active_code",
                    client_ip="198.51.100.1",
                )
            )


async def test_audit_rows_are_kept_for_their_own_retention(ctx: ServiceContext) -> None:
    now = ctx.clock.now()
    retention = ctx.settings.retention_audit
    await _audit(ctx, now - retention - DAY, n=5)
    await _audit(ctx, now - retention + DAY)
    await _audit(ctx, now - ctx.settings.retention_expired - DAY)  # older than codes keep
    assert await _purge(ctx, rules.old_audit_rows, now) == 5
    assert await _count(ctx, Verification) == 2


async def test_account_protection_rows_go_after_their_retention(ctx: ServiceContext) -> None:
    now = ctx.clock.now()
    account = await make_account(ctx)
    old, recent = now - ctx.settings.retention_expired - DAY, now - DAY
    async with ctx.db.transaction() as session:
        for expires_at in (old, old, recent):
            session.add(
                PasswordReset(
                    id=uuid.uuid4(),
                    account_id=None,
                    code_hash=b"\0" * 32,
                    channel="email",
                    created_at=expires_at,
                    last_sent_at=expires_at,
                    expires_at=expires_at,
                    attempts=0,
                    resends=0,
                    ip="203.0.113.7",
                )
            )
            session.add(
                ActionLink(
                    id=uuid.uuid4(),
                    token_hash=uuid.uuid4().bytes * 2,
                    account_id=account.id,
                    subject_kind="login",
                    subject_id=uuid.uuid4(),
                    created_at=expires_at,
                    expires_at=expires_at,
                )
            )
        for created_at in (now - ctx.settings.retention_audit - DAY, old):
            session.add(
                SecurityEvent(
                    id=uuid.uuid4(),
                    account_id=account.id,
                    kind="not_me",
                    created_at=created_at,
                    ip="203.0.113.7",
                    user_agent="",
                    detail="",
                )
            )
    assert await _purge(ctx, rules.expired_password_resets, now) == 2
    assert await _purge(ctx, rules.expired_action_links, now) == 2
    assert await _purge(ctx, rules.old_security_events, now) == 1
    for model in (PasswordReset, ActionLink, SecurityEvent):
        assert await _count(ctx, model) == 1


async def test_purge_runs_alongside_verifications_in_small_batches(ctx: ServiceContext) -> None:
    now = ctx.clock.now()
    await _audit(ctx, now - ctx.settings.retention_audit - DAY, n=25)

    async def busy() -> None:
        for _ in range(10):
            await _audit(ctx, now)

    report, _ = await asyncio.gather(
        purge(ctx.db, now=now, settings=ctx.settings, batch_size=3), busy()
    )
    assert report["auth_code_verifications"] == 25
    assert await _count(ctx, Verification) == 10


@pytest.mark.usefixtures("ctx")
async def test_the_purge_command_reports_what_it_deleted(
    ctx: ServiceContext, cli_env: dict[str, str]
) -> None:
    await _audit(ctx, ctx.clock.now() - ctx.settings.retention_audit - DAY, n=3)
    done = await asyncio.to_thread(run_cli, "purge", "--batch-size", "2", env=cli_env)
    assert done.returncode == 0, done.stderr
    table = dict(line.split() for line in done.stdout.splitlines()[1:])
    assert table == {
        "login_challenges": "0",
        "passkey_challenges": "0",
        "sessions": "0",
        "auth_codes": "0",
        "outbox_messages": "0",
        "throttle_counters": "0",
        "auth_code_verifications": "3",
        "password_resets": "0",
        "contact_changes": "0",
        "action_links": "0",
        "security_events": "0",
        "sms_budget_counters": "0",
    }
    refused = await asyncio.to_thread(run_cli, "purge", "--batch-size", "0", env=cli_env)
    assert refused.returncode == 1 and "batch-size" in refused.stderr


async def test_contact_changes_stay_while_their_notice_link_can_undo_them(
    ctx: ServiceContext,
) -> None:
    now = ctx.clock.now()
    account = await make_account(ctx)
    keep = max(ctx.settings.retention_expired, ctx.settings.not_me_link_ttl)
    async with ctx.db.transaction() as session:
        for expires_at in (now - keep - DAY, now - keep + DAY):
            change = ContactChange(
                id=uuid.uuid4(), account_id=account.id, kind="email",
                new_value="n@example.com", old_value="o@example.com", code_hash=bytes(32),
                created_at=expires_at, expires_at=expires_at, attempts=0, ip="203.0.113.7",
            )  # fmt: skip
            session.add(change)
    assert await _purge(ctx, rules.expired_contact_changes, now) == 1
    assert await _count(ctx, ContactChange) == 1
