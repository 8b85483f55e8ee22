"""Lockouts an attacker cannot cause: device cookies (OWASP) and per-IP limits sized for
shared addresses; and the customer hears about attacks, once per window."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from authsvc.login import devices
from authsvc.throttling.models import ThrottleCounter
from authsvc.throttling.repository import MAX_IPS
from authsvc.throttling.rules import login_key
from tests.conftest import make_client
from tests.factories import make_account
from tests.login.flow import sign_in, start_login
from tests.protection.helpers import sent
from tests.util import logged_text

DEVICE = "__Host-authsvc_device"


async def _device_cookie(ctx: ServiceContext, login: str) -> str:
    async with make_client(ctx, ip="198.51.100.10") as browser:
        verified = await sign_in(browser, ctx, login)
    cookie = verified.cookies[DEVICE]
    header = verified.headers["set-cookie"]
    assert "HttpOnly" in header and "Secure" in header
    assert f"Max-Age={365 * 24 * 3600}" in header  # AUTHSVC_DEVICE_COOKIE_LIFETIME
    return cookie


async def _hammer(ctx: ServiceContext, login: str, times: int, ip: str) -> list[int]:
    async with make_client(ctx, ip=ip) as attacker:
        return [(await start_login(attacker, login, "guess")).status_code for _ in range(times)]


async def test_a_customer_with_a_device_cookie_signs_in_during_an_attack(
    ctx: ServiceContext,
) -> None:
    await make_account(ctx, login="besieged")
    cookie = await _device_cookie(ctx, "besieged")
    statuses = await _hammer(ctx, "besieged", 100, "198.51.100.66")
    assert statuses[:4] == [401] * 4 and set(statuses[4:]) == {429}

    async with make_client(ctx, ip="198.51.100.11") as customer:
        customer.cookies.set(DEVICE, cookie)
        assert (await start_login(customer, "besieged")).status_code == 200
    # The attacker, and anyone else without the cookie, is still slowed down.
    assert await _hammer(ctx, "besieged", 1, "198.51.100.67") == [429]


async def test_a_device_cookie_counts_its_own_failures(ctx: ServiceContext) -> None:
    await make_account(ctx, login="typo")
    cookie = await _device_cookie(ctx, "typo")
    async with make_client(ctx, ip="198.51.100.12") as customer:
        customer.cookies.set(DEVICE, cookie)
        statuses = [(await start_login(customer, "typo", "oops")).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    # Those were the device's failures, not the login's.
    async with make_client(ctx, ip="198.51.100.13") as elsewhere:
        assert (await start_login(elsewhere, "typo")).status_code == 200


@pytest.mark.parametrize("cookie", ["forged.c2lnbmF0dXJl", "", "no-dot", "a.b.c"])
async def test_a_forged_cookie_counts_as_none(ctx: ServiceContext, cookie: str) -> None:
    await make_account(ctx, login="forged")
    await _hammer(ctx, "forged", 5, "198.51.100.66")
    async with make_client(ctx, ip="198.51.100.14") as client:
        client.cookies.set(DEVICE, cookie)
        assert (await start_login(client, "forged")).status_code == 429


async def test_another_logins_cookie_counts_as_none(ctx: ServiceContext) -> None:
    await make_account(ctx, login="owner")
    await make_account(ctx, login="target")
    cookie = await _device_cookie(ctx, "owner")
    await _hammer(ctx, "target", 5, "198.51.100.66")
    async with make_client(ctx, ip="198.51.100.15") as client:
        client.cookies.set(DEVICE, cookie)
        assert (await start_login(client, "target")).status_code == 429
    assert devices.device(ctx.keyring, cookie, "owner") is not None


async def test_thirty_customers_behind_one_address_who_each_mistype_once(
    ctx: ServiceContext,
) -> None:
    for n in range(31):
        await make_account(ctx, login=f"office-{n}")
    async with make_client(ctx, ip="198.51.100.99") as nat:
        for n in range(30):
            assert (await start_login(nat, f"office-{n}", "typo")).status_code == 401
            assert (await start_login(nat, f"office-{n}")).status_code == 200
        assert (await start_login(nat, "office-30")).status_code == 200


async def test_one_address_spraying_many_logins_still_meets_a_back_off(
    ctx: ServiceContext,
) -> None:
    free = ctx.settings.throttle_ip_free_failures
    async with make_client(ctx, ip="198.51.100.98") as sprayer:
        statuses = [
            (await start_login(sprayer, f"spray-{n}", "guess")).status_code for n in range(free + 2)
        ]
    assert statuses[: free + 1] == [401] * (free + 1) and statuses[-1] == 429


async def test_one_attack_notice_per_window_naming_the_addresses(
    ctx: ServiceContext, clock: MovableClock
) -> None:
    account = await make_account(ctx, login="watched")
    for n in range(12):
        await _hammer(ctx, "watched", 1, f"198.51.100.{70 + n % 3}")
        clock.advance(timedelta(minutes=15))  # past every back-off, inside the window
    notices = await sent(ctx, "attack_notice", account.id)
    assert len(notices) == 1
    assert notices[0]["ips"] == "198.51.100.70, 198.51.100.71, 198.51.100.72"

    clock.advance(ctx.settings.throttle_window + timedelta(minutes=1))  # a quiet window
    await _hammer(ctx, "watched", 4, "198.51.100.80")
    notices = await sent(ctx, "attack_notice", account.id)
    assert len(notices) == 2 and notices[1]["ips"] == "198.51.100.80"


async def test_no_notice_for_a_login_nobody_has(ctx: ServiceContext) -> None:
    await _hammer(ctx, "nobody", 6, "198.51.100.81")
    assert await sent(ctx, "attack_notice") == []


async def test_secrets_of_account_protection_never_reach_the_logs(
    ctx: ServiceContext, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    account = await make_account(ctx, login="secretive")
    cookie = await _device_cookie(ctx, "secretive")
    link = (await sent(ctx, "login_confirmation", account.id))[-1]["not_me_url"]
    await client.post(link.removeprefix(ctx.settings.public_url or ""))
    reset_id = (await client.post("/password/reset", json={"login": "secretive"})).json()
    code = (await sent(ctx, "password_reset_code"))[-1]["code"]
    await client.post(
        "/password/reset/confirm",
        json={**reset_id, "code": code, "new_password": "another fine passphrase"},
    )
    client.cookies.set(DEVICE, cookie)
    await start_login(client, "secretive", "wrong")
    token = link.rsplit("/", 1)[1]
    # The service's own lines (the test client's httpx logger prints the URLs it calls).
    ours = logged_text([r for r in caplog.records if r.name.startswith("authsvc")])
    for secret in (cookie, cookie.split(".")[0], token, code):
        assert secret not in ours
    assert "password_reset_completed" in ours and "not_me_confirmed" in ours


async def test_the_addresses_kept_for_the_notice_are_bounded(
    ctx: ServiceContext, clock: MovableClock
) -> None:
    for n in range(12):
        await _hammer(ctx, "spread", 1, f"198.51.100.{110 + n}")
        clock.advance(timedelta(minutes=15))  # past every back-off, inside the window
    async with ctx.db.transaction() as session:
        counter = await session.get(ThrottleCounter, login_key("spread"))
    assert counter is not None and counter.count == 12
    assert counter.ips == [f"198.51.100.{110 + n}" for n in range(MAX_IPS)]
