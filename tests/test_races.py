"""The statements that must hold under concurrency, raced at the repository level.

Every racer checks out its connection first and then waits at one barrier, so all of
them send their statement at the same moment; each test demands exact counts.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.auth_codes import repository as auth_codes
from authsvc.auth_codes.models import AuthCode
from authsvc.context import ServiceContext
from authsvc.delivery import repository as outbox_rows
from authsvc.login import repository as challenges
from authsvc.login.models import LoginChallenge
from authsvc.throttling.service import count_rate
from tests.delivery.helpers import queue
from tests.factories import make_account

T = TypeVar("T")
RACERS = 16  # within the test pool (10 + 10 overflow), so every racer holds a connection


async def race(ctx: ServiceContext, work: Callable[[AsyncSession], Awaitable[T]]) -> list[T]:
    barrier = asyncio.Barrier(RACERS)

    async def racer() -> T:
        async with ctx.db.transaction() as session:
            await session.connection()
            await barrier.wait()
            return await work(session)

    return list(await asyncio.gather(*(racer() for _ in range(RACERS))))


async def _challenge(ctx: ServiceContext) -> uuid.UUID:
    account = await make_account(ctx)
    now = ctx.clock.now()
    challenge = LoginChallenge(
        id=uuid.uuid4(),
        account_id=account.id,
        code_hash=b"\0" * 32,
        channel="email",
        factor="email",
        factors=["email"],
        created_at=now,
        expires_at=now + timedelta(minutes=10),
        last_sent_at=now,
        attempts=0,
        resends=0,
        message_id=uuid.uuid4(),
        ip="203.0.113.7",
        user_agent="test",
    )
    async with ctx.db.transaction() as session:
        session.add(challenge)
    return challenge.id


async def test_only_the_allowed_attempts_are_counted(ctx: ServiceContext) -> None:
    challenge_id = await _challenge(ctx)
    now = ctx.clock.now()
    wrong = [b"\1" * 32]
    counted = await race(
        ctx,
        lambda s: challenges.spend_attempt(
            s, challenge_id, candidates=wrong, now=now, max_attempts=5
        ),
    )
    assert sorted(a.attempts for a in counted if a is not None) == [1, 2, 3, 4, 5]
    assert not any(a.matched for a in counted if a is not None)
    assert counted.count(None) == RACERS - 5


async def test_a_challenge_is_consumed_exactly_once(ctx: ServiceContext) -> None:
    challenge_id = await _challenge(ctx)
    now = ctx.clock.now()
    right = [b"\0" * 32]  # the challenge's code_hash
    spent = await race(
        ctx,
        lambda s: challenges.spend_attempt(
            s, challenge_id, candidates=right, now=now, max_attempts=RACERS
        ),
    )
    assert [a.matched for a in spent if a is not None] == [True]


async def test_each_due_message_is_claimed_by_exactly_one_worker(ctx: ServiceContext) -> None:
    queued = {await queue(ctx) for _ in range(RACERS // 2)}
    now = ctx.clock.now()
    claims = await race(
        ctx,
        lambda s: outbox_rows.claim_due(
            s, now=now, lease_until=now + timedelta(minutes=2), limit=1
        ),
    )
    claimed = [message.id for batch in claims for message in batch]
    assert sorted(claimed) == sorted(queued)  # each once; half the racers found nothing


async def test_a_rate_admits_exactly_its_limit(ctx: ServiceContext) -> None:
    now = ctx.clock.now()
    verdicts = await race(
        ctx,
        lambda s: count_rate(s, "rate:race", limit=10, window=timedelta(minutes=1), now=now),
    )
    assert verdicts.count(None) == 10
    assert all(wait == 60 for wait in verdicts if wait is not None)


async def test_concurrent_generations_leave_exactly_one_active_code(ctx: ServiceContext) -> None:
    account = await make_account(ctx)
    now = ctx.clock.now()

    async def generate(session: AsyncSession) -> None:
        await auth_codes.lock_generation(session, account.id)
        await auth_codes.revoke_active(session, account.id, now=now, reason="replaced")
        await auth_codes.insert(
            session,
            AuthCode(
                id=uuid.uuid4(),
                account_id=account.id,
                code_mac=b"\0" * 32,
                created_at=now,
                expires_at=now + timedelta(hours=1),
                mismatches=0,
                verifications=0,
            ),
        )

    await race(ctx, generate)
    async with ctx.db.transaction() as session:
        by_state = dict(
            (
                await session.execute(
                    select(AuthCode.revoke_reason, func.count())
                    .where(AuthCode.account_id == account.id)
                    .group_by(AuthCode.revoke_reason)
                )
            ).all()
        )
    assert by_state == {None: 1, "replaced": RACERS - 1}
