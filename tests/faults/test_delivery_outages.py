"""Gateways down for a while under `authsvc serve`: every code and notice is delivered
exactly once when they are back, and the SPA sees a code's delivery `failed` during the
outage and `sent` after it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text

from authsvc.context import ServiceContext
from tests.conftest import PANEL_ORIGIN
from tests.delivery.fakes import FakeGateway, Reply, Request, SmtpSink, webhook_behaviour
from tests.factories import PASSWORD, make_account
from tests.faults.helpers import serving
from tests.login.flow import read_otp
from tests.util import free_port

pytestmark = pytest.mark.slow

# Retries come quickly, and an outage of seconds never exhausts them.
FAST_RETRIES = {
    "AUTHSVC_DELIVERY_BACKOFF_BASE": "0.1",
    "AUTHSVC_DELIVERY_BACKOFF_MAX": "0.3",
    "AUTHSVC_DELIVERY_MAX_ATTEMPTS": "1000",
    "AUTHSVC_DELIVERY_POLL_INTERVAL": "0.5",
    "AUTHSVC_ALLOWED_ORIGINS": PANEL_ORIGIN,
}
WEBHOOK_TOKEN = "webhook-token-" + "w" * 20


@dataclass(frozen=True)
class Row:
    id: uuid.UUID
    channel: str
    template: str
    state: str
    attempts: int
    last_error: str | None


# "Your login was not completed" waits until the challenge has run out; not due here.
LATER = "login_incomplete"


async def due(ctx: ServiceContext) -> list[Row]:
    """The messages that should leave now (not cancelled, not scheduled for later)."""
    return [row for row in await outbox(ctx) if row.template != LATER]


async def texts(ctx: ServiceContext) -> list[Row]:
    return [row for row in await outbox(ctx) if row.channel == "sms"]


async def outbox(ctx: ServiceContext) -> list[Row]:
    async with ctx.db.autocommit() as session:
        rows = await session.execute(
            text(
                "SELECT id, channel, template, state, attempts, last_error FROM outbox_messages "
                "ORDER BY created_at, id"
            )
        )
        return [Row(*row) for row in rows]


async def until(
    check: Callable[[], Awaitable[bool]], what: str, ctx: ServiceContext, within: float = 20
) -> None:
    """Poll for a state the running service brings about, with a deadline."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {within}s: {what}; outbox: {await outbox(ctx)}")
        await asyncio.sleep(0.05)


async def delivery_of(http: httpx.AsyncClient, challenge_id: str) -> str:
    response = await http.get(f"/login/challenges/{challenge_id}")
    assert response.status_code == 200, response.text
    state: str = response.json()["delivery"]
    return state


async def login(http: httpx.AsyncClient, name: str) -> str:
    response = await http.post("/login", json={"login": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    challenge_id: str = response.json()["challenge_id"]
    return challenge_id


async def test_smtp_down_then_up_delivers_every_code_and_notice_exactly_once(
    ctx: ServiceContext, cli_env: dict[str, str], tmp_path: Path
) -> None:
    await make_account(ctx, login="mailer")
    smtp_port = free_port()  # nothing listens yet: the mail server is down
    env = {
        **cli_env,
        **FAST_RETRIES,
        "AUTHSVC_EMAIL_PROVIDER": "smtp",
        "AUTHSVC_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
    }
    port = free_port()
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    with serving(env, port, tmp_path / "serve.log"):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            first = await login(http, "mailer")
            # The SPA learns at once that the code did not leave (and may offer SMS).
            await until(lambda: _is(delivery_of(http, first), "failed"), "first code failed", ctx)
            code = await read_otp(ctx, first)
            verified = await http.post("/login/verify", json={"challenge_id": first, "code": code})
            assert verified.status_code == 200, verified.text  # queues the login notice
            second = await login(http, "mailer")
            await until(lambda: _is(delivery_of(http, second), "failed"), "second code failed", ctx)

            async def all_failed_once() -> bool:
                rows = await due(ctx)
                return len(rows) == 3 and all(row.last_error is not None for row in rows)

            await until(all_failed_once, "every queued message failed at least once", ctx)

            controller.start()  # the mail server is back
            try:
                await until(lambda: _is(delivery_of(http, second), "sent"), "second code sent", ctx)

                async def all_sent() -> bool:
                    return all(row.state == "sent" for row in await due(ctx))

                await until(all_sent, "every message sent", ctx)
                await asyncio.sleep(0.5)  # room for a duplicate to show up, if there were one
            finally:
                controller.stop()

    rows = await due(ctx)
    assert sorted(row.template for row in rows) == ["login_confirmation", "login_otp", "login_otp"]
    # The verified login's "not completed" notice was cancelled; the open one is not due yet.
    assert sorted(row.state for row in await outbox(ctx) if row.template == LATER) == [
        "cancelled",
        "queued",
    ]
    assert rows[0].attempts > 1  # the first code waited out the outage, retrying
    assert sink.by_message_id() == {str(row.id): 1 for row in rows}


async def _is(state: Awaitable[str], wanted: str) -> bool:
    return await state == wanted


async def test_sms_gateway_failing_then_back_delivers_every_sms_exactly_once(
    ctx: ServiceContext, cli_env: dict[str, str], tmp_path: Path
) -> None:
    await make_account(ctx, login="texter", phone="+48601234567", channel="sms")
    gateway = await FakeGateway().start()
    answers: list[tuple[str, int]] = []  # (message id, status), in arrival order
    healthy = webhook_behaviour(WEBHOOK_TOKEN)
    down = True

    def behaviour(request: Request) -> Reply:
        status, payload = (500, {"error": "maintenance"}) if down else healthy(request)
        answers.append((request.json()["message_id"], status))
        return status, payload

    gateway.behaviour = behaviour
    env = {
        **cli_env,
        **FAST_RETRIES,
        "AUTHSVC_SMS_PROVIDER": "webhook",
        "AUTHSVC_SMS_WEBHOOK_URL": f"{gateway.url}/send",
        "AUTHSVC_SMS_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
    }
    port = free_port()
    try:
        with serving(env, port, tmp_path / "serve.log"):
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
                challenges = []
                for _ in range(4):
                    challenges.append(await login(http, "texter"))
                    await asyncio.sleep(0.2)  # apart, so creation order is unambiguous
                for challenge in challenges:

                    async def failed(c: str = challenge) -> bool:
                        return await delivery_of(http, c) == "failed"

                    await until(failed, "code failed", ctx)

                async def first_refused_twice() -> bool:
                    refused = [mid for mid, status in answers if status == 500]
                    return refused.count(str((await texts(ctx))[0].id)) >= 2

                # The later ones wait behind the first (their delivery shows as failed).
                await until(first_refused_twice, "the first SMS refused at least twice", ctx)
                down = False  # the gateway is back

                async def all_sent() -> bool:
                    return all(row.state == "sent" for row in await texts(ctx))

                await until(all_sent, "every SMS sent", ctx)
                for challenge in challenges:
                    assert await delivery_of(http, challenge) == "sent"
                await asyncio.sleep(0.5)  # room for a duplicate to show up, if there were one
    finally:
        await gateway.stop()

    created = [str(row.id) for row in await texts(ctx)]
    assert len(created) == 4
    accepted = [mid for mid, status in answers if 200 <= status < 300]
    # Each exactly once, in the order created: the later ones waited behind the first
    # failure instead of racing their own backoffs when the gateway came back.
    assert accepted == created
