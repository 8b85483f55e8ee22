"""Fixtures for the delivery tests: fast settings, a live clock, and the fake servers."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from authsvc.context import ServiceContext
from authsvc.core.clock import SystemClock
from tests.conftest import with_settings
from tests.delivery.fakes import Certificates, FakeGateway, SmtpSink, make_certificates, start_smtp

# Short enough that a test with three attempts takes well under a second.
FAST = {
    "delivery_backoff_base": timedelta(milliseconds=20),
    "delivery_backoff_max": timedelta(milliseconds=100),
    "delivery_poll_interval": timedelta(milliseconds=500),
    "sms_timeout": timedelta(seconds=2),
    "delivery_lease": timedelta(seconds=10),
}


@pytest.fixture
def fast_ctx(ctx: ServiceContext) -> ServiceContext:
    """The test context (movable clock) with short delivery timings."""
    return with_settings(ctx, **FAST)


@pytest.fixture
def live_ctx(fast_ctx: ServiceContext) -> ServiceContext:
    """For tests of the running loop: backoffs and leases elapse in real time."""
    return dataclasses.replace(fast_ctx, clock=SystemClock())


@pytest_asyncio.fixture
async def gateway() -> AsyncIterator[FakeGateway]:
    server = await FakeGateway().start()
    yield server
    await server.stop()


@pytest.fixture
def smtp_sink() -> Iterator[tuple[SmtpSink, int]]:
    """A plain SMTP server (a local relay) and its port."""
    sink = SmtpSink()
    controller = start_smtp(sink)
    yield sink, controller.port
    controller.stop()


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(Path(tmp_path_factory.mktemp("tls")))
