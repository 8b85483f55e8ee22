"""The password back-off under bursts (security review, finding 2): a burst of wrong
passwords is judged exactly as a sequence of them would be, on one app instance and
across two, because each attempt is reserved on its counters before argon2 runs."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest_asyncio
from sqlalchemy import select

from authsvc.accounts.passwords import PasswordHasher
from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from authsvc.throttling.models import ThrottleCounter
from authsvc.throttling.rules import backoff_delay, login_key, login_policy
from tests.conftest import PANEL_ORIGIN, make_client
from tests.factories import PASSWORD, make_account
from tests.login.flow import sign_in, start_login

BURST = 50


def _sequential_before_refusal(ctx: ServiceContext) -> int:
    """Wrong passwords a sequence of requests gets judged before its first 429: the free
    failures and the one that starts the back-off."""
    return ctx.settings.throttle_free_failures + 1


def _as_a_sequence(ctx: ServiceContext) -> Counter[int]:
    judged = _sequential_before_refusal(ctx)
    return Counter({401: judged, 429: BURST - judged})


@pytest_asyncio.fixture
async def second_instance(ctx: ServiceContext) -> AsyncIterator[ServiceContext]:
    """Another app instance on the same database: its own pool and its own hashing pool."""
    url = ctx.db.engine.url.render_as_string(hide_password=False)
    other = ServiceContext.build(ctx.settings, url, clock=ctx.clock)
    yield other
    await other.close()


async def _burst(clients: list[httpx.AsyncClient], login: str, password: str) -> Counter[int]:
    start = asyncio.Event()

    async def attempt(n: int) -> int:
        await start.wait()
        return (await start_login(clients[n % len(clients)], login, password)).status_code

    tasks = [asyncio.ensure_future(attempt(n)) for n in range(BURST)]
    await asyncio.sleep(0)
    start.set()
    return Counter(await asyncio.gather(*tasks))


async def test_a_burst_of_wrong_passwords_is_judged_as_a_sequence_would_be(
    ctx: ServiceContext,
) -> None:
    await make_account(ctx, login="burst")
    async with make_client(ctx, ip="198.51.100.40") as attacker:
        statuses = await _burst([attacker], "burst", "guess")
    assert statuses == _as_a_sequence(ctx)


async def test_a_burst_across_two_app_instances_is_judged_the_same(
    ctx: ServiceContext, second_instance: ServiceContext
) -> None:
    await make_account(ctx, login="burst2")
    async with (
        make_client(ctx, ip="198.51.100.41") as one,
        make_client(second_instance, ip="198.51.100.42") as two,
    ):
        statuses = await _burst([one, two], "burst2", "guess")
    assert statuses == _as_a_sequence(ctx)


async def test_a_burst_at_re_authentication_is_judged_the_same(ctx: ServiceContext) -> None:
    await make_account(ctx, login="reauth-burst")
    async with make_client(ctx, ip="198.51.100.43") as browser:
        await sign_in(browser, ctx, "reauth-burst")
        start = asyncio.Event()

        async def generate() -> int:
            await start.wait()
            answer = await browser.post(
                "/auth-codes", json={"password": "guess"}, headers={"Origin": PANEL_ORIGIN}
            )
            return answer.status_code

        tasks = [asyncio.ensure_future(generate()) for _ in range(BURST)]
        await asyncio.sleep(0)
        start.set()
        statuses = Counter(await asyncio.gather(*tasks))
    assert statuses == _as_a_sequence(ctx)


async def test_a_right_password_in_a_burst_clears_the_count(ctx: ServiceContext) -> None:
    await make_account(ctx, login="mixed")
    async with make_client(ctx, ip="198.51.100.44") as customer:
        for _ in range(3):
            assert (await start_login(customer, "mixed", "typo")).status_code == 401
        assert (await start_login(customer, "mixed", PASSWORD)).status_code == 200
        # The count started over: three more free failures, then the back-off.
        statuses = [(await start_login(customer, "mixed", "typo")).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]


async def test_the_statement_sets_the_back_off_the_rules_say(
    ctx: ServiceContext, clock: MovableClock
) -> None:
    """The reservation computes the wait in SQL; it must agree with rules.backoff_delay."""
    await make_account(ctx, login="schedule")
    policy = login_policy(ctx.settings)
    async with make_client(ctx, ip="198.51.100.45") as attacker:
        for failures in range(1, 16):
            assert (await start_login(attacker, "schedule", "guess")).status_code == 401
            async with ctx.db.transaction() as session:
                counter = await session.scalar(
                    select(ThrottleCounter).where(ThrottleCounter.key == login_key("schedule"))
                )
            assert counter is not None and counter.count == failures
            expected = backoff_delay(failures, policy)
            if expected:
                assert counter.blocked_until == clock.now() + expected
            else:
                assert counter.blocked_until is None
            clock.advance(expected + timedelta(milliseconds=1))


async def test_an_attempt_the_hashing_pool_sheds_is_not_counted(ctx: ServiceContext) -> None:
    """A 503 judged no password: its reservation is handed back, so only the 401s count."""
    await make_account(ctx, login="shed")
    tiny = PasswordHasher(memory_kib=ctx.settings.argon2_memory_kib, threads=1, max_waiting=0,
                          time_cost=ctx.settings.argon2_time_cost, parallelism=1)  # fmt: skip
    try:
        async with make_client(dataclasses.replace(ctx, hasher=tiny), ip="198.51.100.46") as c:
            statuses = await _burst([c], "shed", "guess")
    finally:
        tiny.close()
    assert statuses[503] > 0 and statuses[500] == 0
    async with ctx.db.transaction() as session:
        counted = await session.scalar(
            select(ThrottleCounter.count).where(ThrottleCounter.key == login_key("shed"))
        )
    assert counted == statuses[401]


async def test_a_right_password_at_re_authentication_clears_the_count(
    ctx: ServiceContext,
) -> None:
    """The settlement of a re-authentication (`settle_success`) clears the login's count
    as the password step's does."""
    await make_account(ctx, login="reauth-mixed")
    async with make_client(ctx, ip="198.51.100.47") as browser:
        await sign_in(browser, ctx, "reauth-mixed")

        async def generate(password: str) -> int:
            answer = await browser.post(
                "/auth-codes", json={"password": password}, headers={"Origin": PANEL_ORIGIN}
            )
            return answer.status_code

        assert [await generate("typo") for _ in range(3)] == [401] * 3
        assert await generate(PASSWORD) == 201
        statuses = [await generate("typo") for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
