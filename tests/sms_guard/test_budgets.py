"""The hourly SMS budgets on a real PostgreSQL: exact at their edge under concurrency, shared
by every instance of the service, nothing counted for a refused SMS, a new count each hour."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio

from authsvc.accounts.phones import Textable
from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from authsvc.sms_guard import repository, rules
from authsvc.sms_guard import service as sms_guard
from tests.conftest import make_settings, with_settings
from tests.sms_guard.helpers import OTHER_PREFIX, PREFIX, counters, number

IP = "203.0.113.7"
pytestmark = pytest.mark.usefixtures("early_in_an_hour")


def textable(phone: str) -> Textable:
    return Textable(phone, "PL")


@pytest_asyncio.fixture
async def wide_ctx(ctx: ServiceContext, database_url: str) -> AsyncIterator[ServiceContext]:
    """A second instance of the service over the same database and clock, with 32
    connections, so 30 racers each hold one while they wait at the barrier."""
    other = ServiceContext.build(
        make_settings(db_pool_size=16), database_url, clock=ctx.clock, application_name="other"
    )
    yield other
    await other.close()


async def test_one_sms_counts_once_against_each_of_its_five_budgets(ctx: ServiceContext) -> None:
    assert await sms_guard.reserve(ctx, number=textable("+48601234567"), ip=IP) is None
    assert await counters(ctx) == {
        ("service", "*"): 1,
        ("country", "PL"): 1,
        ("prefix", "+4860123"): 1,
        ("number", "+48601234567"): 1,
        ("ip", IP): 1,
    }


async def test_a_refused_sms_is_counted_against_no_budget(ctx: ServiceContext) -> None:
    strict = with_settings(ctx, sms_budget_number=2)
    phone = textable(number(PREFIX, 1))
    assert [await sms_guard.reserve(strict, number=phone, ip=IP) for _ in range(4)] == [
        None, None, "number", "number",
    ]  # fmt: skip
    found = await counters(ctx)
    # The two refused ones left the service, country, prefix and address counts alone.
    assert found[("number", phone.e164)] == 2
    assert found[("prefix", PREFIX)] == found[("service", "*")] == found[("ip", IP)] == 2


async def test_the_refusal_names_the_widest_spent_budget(ctx: ServiceContext) -> None:
    strict = with_settings(ctx, sms_budget_number=1, sms_budget_prefix=1, sms_budget_service=1)
    phone = textable(number(PREFIX, 1))
    assert await sms_guard.reserve(strict, number=phone, ip=IP) is None
    # Number, prefix and service are all spent now: the service-wide one is named.
    assert await sms_guard.reserve(strict, number=phone, ip=IP) == "service"
    wider = with_settings(strict, sms_budget_service=100)
    assert await sms_guard.reserve(wider, number=phone, ip=IP) == "prefix"
    assert await sms_guard.reserve(wider, number=textable(number(OTHER_PREFIX, 1)), ip=IP) is None


@pytest.mark.parametrize(
    ("budget", "setting", "other_number", "other_ip"),
    [
        ("number", "sms_budget_number", False, True),
        ("prefix", "sms_budget_prefix", True, True),
        ("country", "sms_budget_country", True, True),
        ("service", "sms_budget_service", True, True),
        ("ip", "sms_budget_ip", True, False),
    ],
)
async def test_each_budget_refuses_once_spent(
    ctx: ServiceContext, budget: str, setting: str, other_number: bool, other_ip: bool
) -> None:
    """Every budget on its own: three SMS allowed, the fourth refused by that budget,
    the others being far from theirs (fresh numbers or addresses where they would count)."""
    strict = with_settings(ctx, **{setting: 3})
    results = []
    for n in range(5):
        phone = textable(number(PREFIX, n if other_number else 0))
        ip = f"198.51.100.{n}" if other_ip else IP
        results.append(await sms_guard.reserve(strict, number=phone, ip=ip))
    assert results == [None, None, None, budget, budget]


async def test_a_budget_of_zero_sends_no_sms(ctx: ServiceContext) -> None:
    off = with_settings(ctx, sms_budget_service=0)
    assert await sms_guard.reserve(off, number=textable(number(PREFIX, 1)), ip=IP) == "service"
    assert await counters(ctx) == {}


async def test_budgets_start_again_each_clock_hour(
    ctx: ServiceContext, clock: MovableClock
) -> None:
    strict = with_settings(ctx, sms_budget_number=1)
    phone = textable(number(PREFIX, 1))
    start = rules.hour_of(clock.now())
    clock.advance(start + timedelta(minutes=59, seconds=59) - clock.now())
    assert await sms_guard.reserve(strict, number=phone, ip=IP) is None
    assert await sms_guard.reserve(strict, number=phone, ip=IP) == "number"
    clock.advance(timedelta(seconds=1))  # the next hour: a fixed window, for every replica
    assert await sms_guard.reserve(strict, number=phone, ip=IP) is None


async def test_thirty_concurrent_sms_at_the_edge_of_a_budget_send_exactly_the_budget(
    ctx: ServiceContext, wide_ctx: ServiceContext
) -> None:
    """15 of the prefix's 20 are used; 30 SMS to 30 numbers of that prefix race from a
    barrier: exactly 5 pass, and the 25 refused count against no other budget."""
    edge = with_settings(wide_ctx, sms_budget_prefix=20, sms_budget_ip=1000)
    for n in range(15):
        assert await sms_guard.reserve(edge, number=textable(number(PREFIX, n)), ip=IP) is None
    hour = rules.hour_of(ctx.clock.now())
    barrier = asyncio.Barrier(30)

    async def racer(n: int) -> str | None:
        budgets = rules.budgets_for(textable(number(PREFIX, 100 + n)), IP, edge.settings)
        async with edge.db.autocommit() as session:
            await session.connection()  # every racer holds its connection before the start
            await barrier.wait()
            return await repository.reserve(session, budgets, hour=hour)

    results = await asyncio.gather(*(racer(n) for n in range(30)))
    assert results.count(None) == 5
    assert results.count("prefix") == 25
    found = await counters(ctx)
    assert found[("prefix", PREFIX)] == 20
    assert found[("service", "*")] == found[("country", "PL")] == found[("ip", IP)] == 20
    assert sum(used for (budget, _), used in found.items() if budget == "number") == 20


async def test_concurrent_sms_with_overlapping_budgets_never_deadlock(
    wide_ctx: ServiceContext,
) -> None:
    """Racers share some budgets and not others (two prefixes, two addresses, one number
    each): every statement locks its counters in the same order, so all finish, and each
    budget ends exactly at its count."""
    settings = with_settings(wide_ctx, sms_budget_prefix=1000, sms_budget_ip=1000)
    barrier = asyncio.Barrier(30)
    hour = rules.hour_of(wide_ctx.clock.now())

    async def racer(n: int) -> str | None:
        phone = textable(number((PREFIX, OTHER_PREFIX)[n % 2], n % 3))
        budgets = rules.budgets_for(phone, f"198.51.100.{n % 5}", settings.settings)
        async with settings.db.autocommit() as session:
            await session.connection()
            await barrier.wait()
            return await repository.reserve(session, budgets, hour=hour)

    results = await asyncio.wait_for(asyncio.gather(*(racer(n) for n in range(30))), 60)
    # 6 numbers (2 prefixes x 3) of 5 each: 30 racers, 5 per number, all within budget.
    assert results == [None] * 30
    found = await counters(wide_ctx)
    assert found[("service", "*")] == 30
    assert found[("prefix", PREFIX)] == found[("prefix", OTHER_PREFIX)] == 15
    assert all(found[("ip", f"198.51.100.{n}")] == 6 for n in range(5))


async def test_two_instances_of_the_service_share_the_budgets(
    ctx: ServiceContext, wide_ctx: ServiceContext
) -> None:
    """Two contexts, each with its own connection pool (two replicas), over one database."""
    phone = textable(number(PREFIX, 1))
    one, two = ctx, wide_ctx
    results = [await sms_guard.reserve((one, two)[n % 2], number=phone, ip=IP) for n in range(7)]
    assert results == [None] * 5 + ["number"] * 2
    concurrent = await asyncio.gather(
        *(sms_guard.reserve((one, two)[n % 2], number=textable(number(PREFIX, 2)), ip="::1")
          for n in range(12))
    )  # fmt: skip
    assert concurrent.count(None) == 5 and concurrent.count("number") == 7


async def test_status_shows_each_budget_of_this_hour(ctx: ServiceContext) -> None:
    busy, quiet = textable(number(PREFIX, 1)), textable(number(OTHER_PREFIX, 1))
    for _ in range(3):
        await sms_guard.reserve(ctx, number=busy, ip=IP)
    await sms_guard.reserve(ctx, number=quiet, ip="2001:db8:1:2:3:4:5:6")
    async with ctx.db.transaction() as session:
        found = await sms_guard.status(session, ctx, top=10)
    uses = [(u.budget, u.subject, u.used, u.allowed) for u in found.uses]
    assert uses == [
        ("service", "*", 4, 2000),
        ("country", "PL", 4, 1000),
        ("prefix", PREFIX, 3, 20),
        ("prefix", OTHER_PREFIX, 1, 20),
        ("number", busy.e164, 3, 5),
        ("number", quiet.e164, 1, 5),
        ("ip", IP, 3, 10),
        ("ip", "2001:db8:1:2::/64", 1, 10),
    ]
    async with ctx.db.transaction() as session:
        top = await sms_guard.status(session, ctx, top=1)
    assert [(u.budget, u.subject) for u in top.uses if u.budget == "number"] == [
        ("number", busy.e164)
    ]


async def test_a_phone_change_code_counts_against_the_new_numbers_budgets(
    ctx: ServiceContext,
) -> None:
    """The contact change texts the number being added, not the one the account has."""
    strict = with_settings(ctx, sms_budget_number=1)
    new, account_id = number(OTHER_PREFIX, 9), uuid.uuid4()
    first = await sms_guard.sms_to(
        strict, phone=new, account_id=account_id, ip=IP, purpose="phone_change"
    )
    again = await sms_guard.sms_to(
        strict, phone=new, account_id=account_id, ip=IP, purpose="phone_change"
    )
    assert (first.channel, again.channel, again.sms_unavailable) == ("sms", "email", "limited")
    refused = await sms_guard.sms_to(
        strict, phone="+48221234567", account_id=account_id, ip=IP, purpose="phone_change"
    )
    assert refused == sms_guard.Route("email", "number_not_accepted")
    assert (await counters(ctx))[("number", new)] == 1


async def test_purge_drops_the_counters_of_hours_past_the_retention(
    ctx: ServiceContext, clock: MovableClock
) -> None:
    from authsvc.maintenance import purge

    phone = textable(number(PREFIX, 1))
    start = clock.now()
    for _ in range(3):  # three hours, a day apart
        assert await sms_guard.reserve(ctx, number=phone, ip=IP) is None
        clock.advance(timedelta(days=1))
    # Past the retention for the first hour only.
    now = start + timedelta(hours=12) + ctx.settings.retention_expired
    report = await purge.purge(
        ctx.db, now=now, settings=ctx.settings, rules=[purge.past_sms_budget_hours], batch_size=2
    )
    # The oldest hour (five counters) went; the two later ones stay.
    assert report == {"sms_budget_counters": 5}
    assert (await counters(ctx))[("service", "*")] == 1
