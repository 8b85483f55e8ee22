from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from authsvc.config import Settings
from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from authsvc.throttling.rules import backoff_delay, login_policy
from authsvc.web.client_ip import resolve_client_ip
from tests.conftest import make_client, make_settings, with_settings
from tests.factories import make_account
from tests.login.flow import start_login


async def _fail(client: httpx.AsyncClient, login: str) -> httpx.Response:
    return await start_login(client, login, "wrong password")


def test_backoff_doubles_after_the_free_failures_and_is_capped() -> None:
    settings = make_settings()
    delays = [backoff_delay(n, login_policy(settings)).total_seconds() for n in range(1, 16)]
    assert delays[:3] == [0, 0, 0]
    assert delays[3:8] == [1, 2, 4, 8, 16]
    assert max(delays) == settings.throttle_max_delay.total_seconds() == 900


async def test_repeated_failures_are_throttled_with_growing_retry_after(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    await make_account(ctx, login="target")
    for _ in range(4):
        assert (await _fail(client, "target")).status_code == 401
    blocked = await _fail(client, "target")
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "too_many_attempts"
    assert blocked.headers["retry-after"] == "1"
    clock.advance(timedelta(seconds=1))
    assert (await _fail(client, "target")).status_code == 401
    assert (await _fail(client, "target")).headers["retry-after"] == "2"


async def test_throttled_even_with_the_right_password(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    await make_account(ctx, login="locked")
    for _ in range(4):
        await _fail(client, "locked")
    assert (await start_login(client, "locked")).status_code == 429


async def test_unknown_logins_are_throttled_exactly_like_known_ones(
    ctx: ServiceContext,
) -> None:
    await make_account(ctx, login="exists")
    answers = {}
    for login, ip in (("exists", "198.51.100.1"), ("ghost", "198.51.100.2")):
        async with make_client(ctx, ip=ip) as http:
            answers[login] = [(await _fail(http, login)).status_code for _ in range(6)]
    assert answers["exists"] == answers["ghost"] == [401, 401, 401, 401, 429, 429]


async def test_throttle_is_per_client_ip_across_logins(ctx: ServiceContext) -> None:
    ctx = with_settings(ctx, throttle_ip_free_failures=3)
    async with make_client(ctx, ip="198.51.100.9") as attacker:
        for n in range(4):
            await _fail(attacker, f"spray-{n}")
        assert (await _fail(attacker, "spray-new")).status_code == 429
    await make_account(ctx, login="innocent")
    async with make_client(ctx, ip="198.51.100.10") as customer:
        assert (await start_login(customer, "innocent")).status_code == 200


async def test_success_resets_the_accounts_count(ctx: ServiceContext, clock: MovableClock) -> None:
    await make_account(ctx, login="forgetful")
    async with make_client(ctx, ip="198.51.100.20") as http:
        for _ in range(3):
            await _fail(http, "forgetful")
        assert (await start_login(http, "forgetful")).status_code == 200
    async with make_client(ctx, ip="198.51.100.21") as http:
        statuses = [(await _fail(http, "forgetful")).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 401]


async def test_no_permanent_lockout(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    await make_account(ctx, login="victim")
    for _ in range(30):
        await _fail(client, "victim")
        clock.advance(timedelta(minutes=15))
    clock.advance(timedelta(minutes=15))
    assert (await start_login(client, "victim")).status_code == 200


def test_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    trusted = Settings(trusted_proxies="10.0.0.0/8").trusted_proxies
    assert resolve_client_ip("203.0.113.5", ["198.51.100.1"], trusted) == "203.0.113.5"
    assert resolve_client_ip("10.0.0.2", ["198.51.100.1"], trusted) == "198.51.100.1"
    # A client-supplied hop left of the real one is ignored.
    assert resolve_client_ip("10.0.0.2", ["1.1.1.1, 198.51.100.1, 10.0.0.3"], trusted) == (
        "198.51.100.1"
    )
    assert resolve_client_ip("10.0.0.2", [], trusted) == "10.0.0.2"


@pytest.mark.parametrize("ip", ["198.51.100.30"])
async def test_wrong_password_logs_an_event_without_the_password(
    ctx: ServiceContext, ip: str, caplog: pytest.LogCaptureFixture
) -> None:
    await make_account(ctx, login="audited")
    caplog.set_level("DEBUG")
    async with make_client(ctx, ip=ip) as http:
        await start_login(http, "audited", "hunter2-wrong-password")
    events = [r.getMessage() for r in caplog.records if r.name == "authsvc.events"]
    assert any("event=password_failed" in e and ip in e for e in events), events
    assert "hunter2-wrong-password" not in caplog.text
