"""Codes over an SMS budget still arrive, by e-mail: through HTTP, with the delivery worker
sending to a real local SMS gateway and SMTP server.

The bots here sign in with the right password (accounts a pumping gang made, with numbers
in one premium range): the budgets, not the password, are what stops the bill.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from authsvc.accounts import service as accounts
from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from authsvc.delivery.models import OutboxMessage
from authsvc.delivery.worker import DeliveryWorker
from tests.conftest import make_client, make_settings, with_settings
from tests.delivery.fakes import FakeGateway, SmtpSink
from tests.factories import PASSWORD, make_account
from tests.login.flow import start_login
from tests.sms_guard.conftest import PROXY, delivering
from tests.sms_guard.helpers import OTHER_PREFIX, PREFIX, counters, number

pytestmark = pytest.mark.usefixtures("early_in_an_hour")


# --- helpers ---------------------------------------------------------------------------


async def make_bots(ctx: ServiceContext, phones: list[str]) -> list[str]:
    """Accounts on SMS with these numbers (one hash for all: only the numbers matter)."""
    password_hash = await ctx.hasher.hash(PASSWORD)
    logins = [f"bot-{n}-{uuid.uuid4().hex[:6]}" for n in range(len(phones))]
    async with ctx.db.transaction() as session:
        for login, phone in zip(logins, phones, strict=True):
            await accounts.create_account(
                session, login=login, email=f"{login}@example.com", phone=phone, channel="sms",
                locale="en", password_hash=password_hash, now=ctx.clock.now(),
                sms_countries=ctx.settings.sms_countries,
            )  # fmt: skip
    return logins


async def login_from(client: httpx.AsyncClient, login: str, ip: str) -> httpx.Response:
    """/login by a client at `ip`, behind the trusted proxy that the test client plays."""
    return await client.post(
        "/login", json={"login": login, "password": PASSWORD}, headers={"X-Forwarded-For": ip}
    )


async def deliver_all(ctx: ServiceContext) -> None:
    async with DeliveryWorker(ctx, listen=False) as worker:
        while await worker.run_once():
            pass


def sms_to(gateway: FakeGateway, prefix: str = "") -> list[str]:
    return [r.json()["to"] for r in gateway.requests if r.json()["to"].startswith(prefix)]


def codes_mailed(sink: SmtpSink) -> list[str]:
    return [str(m.message["To"]) for m in sink.messages if "code" in str(m.message["Subject"])]


async def metric(client: httpx.AsyncClient, name: str, **labels: str) -> float:
    """A sample as /metrics shows it (0 when absent)."""
    for family in text_string_to_metric_families((await client.get("/metrics")).text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


async def resend(client: httpx.AsyncClient, challenge_id: str, **body: str) -> httpx.Response:
    return await client.post("/login/resend", json={"challenge_id": challenge_id, **body})


# --- a pumping attack --------------------------------------------------------------------


async def test_two_hundred_bot_sign_ins_in_one_prefix_text_only_the_prefix_budget(
    ctx: ServiceContext, gateway: FakeGateway, smtp_sink: tuple[SmtpSink, int]
) -> None:
    sink, port = smtp_sink
    ctx = delivering(ctx, gateway, port)
    bots = await make_bots(ctx, [number(PREFIX, n) for n in range(200)])
    [customer] = await make_bots(ctx, [number(OTHER_PREFIX, 1)])
    async with make_client(ctx, ip=PROXY) as client:
        refused_before = await metric(client, "authsvc_sms_budget_refusals_total", budget="prefix")
        sent_before = await metric(client, "authsvc_sms_sent_total", country="PL")
        # Each bot from an address of its own, as a botnet comes.
        answers = [
            await login_from(client, bot, f"10.0.{n // 250}.{n % 250}")
            for n, bot in enumerate(bots)
        ]
        assert {a.status_code for a in answers} == {200}
        by_sms = [a.json() for a in answers if a.json()["channel"] == "sms"]
        by_email = [a.json() for a in answers if a.json()["channel"] == "email"]
        assert len(by_sms) == 20 and len(by_email) == 180
        assert all("sms_unavailable" not in a for a in by_sms)
        assert {a["sms_unavailable"] for a in by_email} == {"limited"}
        assert {a["destination"][-12:] for a in by_email} == {"@example.com"}

        # A customer in another range is not caught by the bots' budget.
        theirs = await login_from(client, customer, "198.51.100.20")
        assert theirs.json()["channel"] == "sms" and "sms_unavailable" not in theirs.json()

        await deliver_all(ctx)
        assert len(sms_to(gateway, PREFIX)) == 20
        assert sms_to(gateway, OTHER_PREFIX) == [number(OTHER_PREFIX, 1)]
        assert len(codes_mailed(sink)) == 180  # no bot, and no customer, is left without a code
        assert (
            await metric(client, "authsvc_sms_budget_refusals_total", budget="prefix")
            == refused_before + 180
        )
        assert await metric(client, "authsvc_sms_sent_total", country="PL") == sent_before + 21
    found = await counters(ctx)
    assert found[("prefix", PREFIX)] == 20 and found[("service", "*")] == 21


async def test_thirty_concurrent_sign_ins_at_the_edge_of_a_budget_text_exactly_the_budget(
    ctx: ServiceContext,
    database_url: str,
    gateway: FakeGateway,
    smtp_sink: tuple[SmtpSink, int],
) -> None:
    """15 of the prefix's 20 SMS are spent; 30 bots of that prefix sign in at once: 5 more
    SMS leave the gateway, the other 25 codes go by e-mail."""
    wide = ServiceContext.build(
        make_settings(argon2_max_waiting=64, db_pool_size=16), database_url, clock=ctx.clock
    )
    try:
        edge = delivering(wide, gateway, smtp_sink[1])
        bots = await make_bots(edge, [number(PREFIX, n) for n in range(45)])
        async with make_client(edge, ip=PROXY) as client:
            for n, bot in enumerate(bots[:15]):
                assert (await login_from(client, bot, f"10.1.0.{n}")).json()["channel"] == "sms"
            answers = await asyncio.gather(
                *(login_from(client, bot, f"10.2.0.{n}") for n, bot in enumerate(bots[15:]))
            )
        assert [a.status_code for a in answers] == [200] * 30
        assert sorted(a.json()["channel"] for a in answers) == ["email"] * 25 + ["sms"] * 5
        await deliver_all(edge)
        assert len(sms_to(gateway, PREFIX)) == 20
        assert len(codes_mailed(smtp_sink[0])) == 25
    finally:
        await wide.close()


async def test_two_instances_of_the_service_share_one_numbers_budget(
    ctx: ServiceContext, database_url: str
) -> None:
    """Two apps, each with its own context and connection pool (two replicas), one database."""
    other = ServiceContext.build(make_settings(), database_url, clock=ctx.clock)
    try:
        [login] = await make_bots(ctx, [number(PREFIX, 7)])
        async with make_client(ctx) as one, make_client(other) as two:
            answers = [await start_login((one, two)[n % 2], login) for n in range(7)]
        channels = [a.json()["channel"] for a in answers]
        assert channels == ["sms"] * 5 + ["email"] * 2  # the number's budget: 5 an hour
    finally:
        await other.close()


async def test_the_service_wide_breaker_sends_everyone_by_email_until_the_next_hour(
    ctx: ServiceContext,
    clock: MovableClock,
    gateway: FakeGateway,
    smtp_sink: tuple[SmtpSink, int],
) -> None:
    ctx = delivering(ctx, gateway, smtp_sink[1], sms_budget_service=3)
    customers = await make_bots(ctx, [number(f"+4860{n}12", 1) for n in range(5)])
    async with make_client(ctx, ip=PROXY) as client:
        tripped_before = await metric(client, "authsvc_sms_budget_refusals_total", budget="service")
        first = [
            (await login_from(client, c, f"198.51.100.{n}")).json() for n, c in enumerate(customers)
        ]
        assert [a["channel"] for a in first] == ["sms"] * 3 + ["email"] * 2
        assert [a.get("sms_unavailable") for a in first[3:]] == ["limited", "limited"]
        assert (
            await metric(client, "authsvc_sms_budget_refusals_total", budget="service")
            == tripped_before + 2
        )

        clock.advance(timedelta(minutes=54))  # 59 minutes past: still the same hour
        late = (await login_from(client, customers[4], "198.51.100.9")).json()
        assert late["channel"] == "email"

        clock.advance(timedelta(minutes=2))  # the next hour: the breaker closes by itself
        again = [
            (await login_from(client, c, f"198.51.100.{n}")).json() for n, c in enumerate(customers)
        ]
        assert [a["channel"] for a in again] == ["sms"] * 3 + ["email"] * 2
    await deliver_all(ctx)
    assert len(sms_to(gateway)) == 6
    assert len(codes_mailed(smtp_sink[0])) == 5


# --- every path that texts a code -----------------------------------------------------------


async def test_a_resend_over_the_numbers_budget_goes_by_email(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    ctx = with_settings(ctx, sms_budget_number=2)
    await make_account(ctx, login="resender", phone=number(PREFIX, 1), channel="sms")
    async with make_client(ctx) as http:
        started = (await start_login(http, "resender")).json()
        assert started["channel"] == "sms"
        challenge_id = started["challenge_id"]
        clock.advance(timedelta(seconds=30))
        assert (await resend(http, challenge_id)).json()["channel"] == "sms"
        clock.advance(timedelta(seconds=30))
        limited = (await resend(http, challenge_id)).json()
        assert (limited["channel"], limited["sms_unavailable"]) == ("email", "limited")
        assert limited["destination"] == "r***@example.com"
        status = (await http.get(f"/login/challenges/{challenge_id}")).json()
        assert status["channel"] == "email"  # the code that works now went by e-mail
        clock.advance(timedelta(seconds=30))
        # Asking for SMS again in the same hour: still over budget, still by e-mail.
        asked = (await resend(http, challenge_id, channel="sms")).json()
        assert (asked["channel"], asked["sms_unavailable"]) == ("email", "limited")
    async with ctx.db.transaction() as session:
        rows = await session.execute(
            select(OutboxMessage.channel).where(OutboxMessage.template == "login_otp")
            .order_by(OutboxMessage.created_at)
        )  # fmt: skip
        assert list(rows.scalars()) == ["sms", "sms", "email", "email"]


async def test_an_email_account_is_not_counted_and_gets_no_sms_unavailable(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    await make_account(ctx, login="mailer", phone=number(PREFIX, 2), channel="email")
    answer = (await start_login(client, "mailer")).json()
    assert answer["channel"] == "email" and "sms_unavailable" not in answer
    assert await counters(ctx) == {}


async def test_a_stored_number_no_longer_accepted_sends_the_code_by_email(
    ctx: ServiceContext,
) -> None:
    await make_account(ctx, login="moved", phone=number(PREFIX, 3), channel="sms")
    germany_only = with_settings(ctx, sms_countries="DE")
    async with make_client(germany_only) as http:
        answer = (await start_login(http, "moved")).json()
    assert (answer["channel"], answer["sms_unavailable"]) == ("email", "number_not_accepted")
    assert await counters(ctx) == {}


async def test_a_password_reset_over_budget_sends_its_code_by_email_and_says_nothing(
    ctx: ServiceContext, clock: MovableClock
) -> None:
    ctx = with_settings(ctx, sms_budget_number=1)
    await make_account(ctx, login="forgetful", phone=number(PREFIX, 4), channel="sms")
    async with make_client(ctx) as http:
        first = await http.post("/password/reset", json={"login": "forgetful"})
        second = await http.post("/password/reset", json={"login": "forgetful"})
        nobody = await http.post("/password/reset", json={"login": "nobody-at-all"})
        clock.advance(timedelta(seconds=30))
        resent = await http.post(
            "/password/reset/resend", json={"reset_id": first.json()["reset_id"]}
        )
    # The answers are alike: whether the SMS was allowed is the account's business.
    assert {first.status_code, second.status_code, nobody.status_code} == {202}
    assert set(first.json()) == set(second.json()) == set(nobody.json())
    assert resent.status_code == 202
    async with ctx.db.transaction() as session:
        rows = await session.execute(
            select(OutboxMessage.channel).where(OutboxMessage.template == "password_reset_code")
            .order_by(OutboxMessage.created_at)
        )  # fmt: skip
        # The first by SMS; the second request and the resend of the first are over budget.
        assert list(rows.scalars()) == ["sms", "email", "email"]


async def test_every_budget_has_its_refusal_series_from_the_start(
    client: httpx.AsyncClient,
) -> None:
    text = (await client.get("/metrics")).text
    for budget in ("service", "country", "prefix", "number", "ip"):
        assert f'authsvc_sms_budget_refusals_total{{budget="{budget}"}}' in text
