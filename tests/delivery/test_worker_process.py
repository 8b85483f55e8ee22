"""`authsvc worker` as a real process: killed mid-batch it loses nothing; SIGTERM is graceful."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from authsvc.context import ServiceContext
from tests.delivery.fakes import FakeGateway, SmtpSink, start_smtp, webhook_behaviour
from tests.delivery.helpers import OTP, eventually, queue, states, status_of


@pytest.fixture
def slow_smtp() -> Iterator[tuple[SmtpSink, int]]:
    sink = SmtpSink(delay=0.05)
    controller = start_smtp(sink)
    yield sink, controller.port
    controller.stop()


def worker_env(cli_env: dict[str, str], port: int, **extra: str) -> dict[str, str]:
    return {
        **cli_env,
        "AUTHSVC_EMAIL_PROVIDER": "smtp",
        "AUTHSVC_SMTP_URL": f"smtp://127.0.0.1:{port}",
        "AUTHSVC_DELIVERY_LEASE": "2",
        "AUTHSVC_SMS_TIMEOUT": "1",
        "AUTHSVC_DELIVERY_POLL_INTERVAL": "0.5",
        "AUTHSVC_LOG_LEVEL": "debug",
        **extra,
    }


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "authsvc", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stderr_of(process: subprocess.Popen[bytes]) -> str:
    assert process.stderr is not None
    return process.stderr.read().decode()


async def test_worker_killed_mid_batch_loses_nothing_after_restart(
    ctx: ServiceContext, cli_env: dict[str, str], slow_smtp: tuple[SmtpSink, int]
) -> None:
    sink, port = slow_smtp
    env = worker_env(cli_env, port, AUTHSVC_DELIVERY_CONCURRENCY="4")
    ids = [str(await queue(ctx)) for _ in range(60)]

    first = start_worker(env)
    try:
        await eventually(lambda: received_at_least(sink, 10), within=20)
    finally:
        first.kill()  # SIGKILL: no chance to finish or record anything
        first.wait()
    killed_log = stderr_of(first)
    assert len(sink.messages) < 60, "the kill came mid-batch"

    second = start_worker(env)
    try:
        await eventually(lambda: all_sent(ctx, 60), within=30)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=15) == 0
    counts = sink.by_message_id()
    assert set(counts) == set(ids), "every message arrived"
    # At least once: what was in flight at the kill may arrive twice (same Message-ID).
    assert sum(counts.values()) - len(ids) <= 4
    for log in (killed_log, stderr_of(second)):
        assert "delivery sent message_id=" in log
        assert OTP not in log


async def received_at_least(sink: SmtpSink, count: int) -> bool:
    return len(sink.messages) >= count


async def all_sent(ctx: ServiceContext, count: int) -> bool:
    return await states(ctx) == {"sent": count}


async def test_sigterm_finishes_the_message_in_hand_then_exits_zero(
    ctx: ServiceContext, cli_env: dict[str, str]
) -> None:
    sink = SmtpSink(delay=1.0)
    controller = start_smtp(sink)
    try:
        env = worker_env(
            cli_env,
            controller.port,
            AUTHSVC_DELIVERY_CONCURRENCY="1",
            AUTHSVC_DELIVERY_LEASE="10",  # sends are cut at half: well above the 1 s stall
        )
        first, second = await queue(ctx), await queue(ctx)
        process = start_worker(env)
        try:
            await eventually(lambda: data_started(sink), within=20)
            process.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(process.wait, 15)
        finally:
            if process.poll() is None:
                process.kill()
        assert code == 0, stderr_of(process)
    finally:
        controller.stop()
    # The one in hand (either may have been first in line) was finished and recorded...
    finished = [await status_of(ctx, message_id) for message_id in (first, second)]
    assert sorted((found.state, found.attempts) for found in finished) == [
        ("queued", 0),  # ...and nothing new was started after SIGTERM.
        ("sent", 1),
    ]
    assert len(sink.messages) == 1


async def data_started(sink: SmtpSink) -> bool:
    return sink.data_started.is_set()


async def test_worker_log_names_messages_but_never_codes_or_gateway_urls(
    ctx: ServiceContext, cli_env: dict[str, str], gateway: FakeGateway
) -> None:
    gateway.behaviour = webhook_behaviour("t0ken")
    env = {
        **cli_env,
        "AUTHSVC_SMS_PROVIDER": "webhook",
        # Some gateways take their key in the query string.
        "AUTHSVC_SMS_WEBHOOK_URL": f"{gateway.url}/sms?key=url-secret-123",
        "AUTHSVC_SMS_WEBHOOK_TOKEN": "t0ken",
        "AUTHSVC_DELIVERY_POLL_INTERVAL": "0.5",
    }
    message_id = await queue(ctx, channel="sms")
    process = start_worker(env)
    try:
        await eventually(lambda: all_sent(ctx, 1), within=20)
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 15)
    log = stderr_of(process)
    assert code == 0, log
    assert f"delivery sent message_id={message_id} template=login_otp channel=sms" in log
    assert "url-secret-123" not in log
    assert "t0ken" not in log
    assert OTP not in log
