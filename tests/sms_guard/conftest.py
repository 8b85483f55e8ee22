"""The outside world of the SMS guard's tests: a real local SMS gateway and SMTP server, and
the clock at the start of an hour, so moving it by minutes never crosses into the next."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
import pytest_asyncio
from pydantic import SecretStr

from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from authsvc.sms_guard.rules import HOUR, hour_of
from tests.conftest import with_settings
from tests.delivery.fakes import FakeGateway, SmtpSink, start_smtp, webhook_behaviour

GATEWAY_TOKEN = "gateway-token-123"
PROXY = "203.0.113.7"  # the test client's address: a trusted proxy that names the client


@pytest.fixture
def early_in_an_hour(ctx: ServiceContext, clock: MovableClock) -> None:
    """The clock five minutes into the next hour: the budgets' window is then certain
    (tests that use the database take it, `pytestmark`)."""
    now = clock.now()
    clock.advance(hour_of(now) + HOUR + timedelta(minutes=5) - now)


@pytest_asyncio.fixture
async def gateway() -> AsyncIterator[FakeGateway]:
    server = await FakeGateway(webhook_behaviour(GATEWAY_TOKEN)).start()
    yield server
    await server.stop()


@pytest.fixture
def smtp_sink() -> Iterator[tuple[SmtpSink, int]]:
    sink = SmtpSink()
    controller = start_smtp(sink)
    yield sink, controller.port
    controller.stop()


def delivering(
    ctx: ServiceContext, gateway: FakeGateway, smtp_port: int, **settings: object
) -> ServiceContext:
    """`ctx` sending SMS to the local gateway and e-mail to the local SMTP server, behind a
    trusted proxy whose X-Forwarded-For names each bot's address."""
    return with_settings(
        ctx,
        sms_provider="webhook",
        sms_webhook_url=f"{gateway.url}/sms",
        sms_webhook_token=SecretStr(GATEWAY_TOKEN),
        email_provider="smtp",
        smtp_url=SecretStr(f"smtp://127.0.0.1:{smtp_port}"),
        trusted_proxies=f"{PROXY}/32",
        **settings,
    )
