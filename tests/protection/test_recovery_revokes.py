"""Taking an account back ends everything the other party may hold (security review,
findings 1 and 4): a password change or reset revokes the authorization code, and device
cookies issued before it stop counting as the customer's browser."""

from __future__ import annotations

import uuid

import httpx

from authsvc.accounts.models import Account
from authsvc.context import ServiceContext
from authsvc.login import devices
from tests.conftest import PANEL_ORIGIN, make_client
from tests.factories import PASSWORD, make_account
from tests.login.flow import sign_in, start_login
from tests.protection.helpers import not_me_path, sent
from tests.support.helpers import bearer_session, new_code, support_key, verify

NEW = "a brand new passphrase"
DEVICE = "__Host-authsvc_device"


async def _reset(ctx: ServiceContext, client: httpx.AsyncClient, login: str) -> None:
    reset_id = (await client.post("/password/reset", json={"login": login})).json()["reset_id"]
    code = (await sent(ctx, "password_reset_code"))[-1]["code"]
    body = {"reset_id": reset_id, "code": code, "new_password": NEW}
    assert (await client.post("/password/reset/confirm", json=body)).status_code == 204


async def _change(client: httpx.AsyncClient) -> None:
    body = {"password": PASSWORD, "new_password": NEW}
    answer = await client.post("/password", json=body, headers={"origin": PANEL_ORIGIN})
    assert answer.status_code == 204


async def test_a_password_change_revokes_the_authorization_code(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx, login="changer")
    key = await support_key(ctx)
    # The other party's session made a code; the customer changes the password elsewhere.
    code = await new_code(client, await bearer_session(ctx, account))
    assert (await verify(client, key, "changer", code)).json()["valid"] is True
    async with make_client(ctx, ip="198.51.100.8") as customer:
        await sign_in(customer, ctx, "changer")
        await _change(customer)
    assert (await verify(client, key, "changer", code)).json() == {
        "valid": False,
        "reason": "no_active_code",
    }
    notice = (await sent(ctx, "password_changed", account.id))[-1]
    assert notice["_channel"] == "email"


async def test_a_password_reset_revokes_the_authorization_code(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx, login="resetter")
    key = await support_key(ctx)
    code = await new_code(client, await bearer_session(ctx, account))
    await _reset(ctx, client, "resetter")
    answer = (await verify(client, key, "resetter", code)).json()
    assert answer == {"valid": False, "reason": "no_active_code"}


async def _device_cookie(ctx: ServiceContext, login: str) -> str:
    async with make_client(ctx, ip="198.51.100.10") as browser:
        return (await sign_in(browser, ctx, login)).cookies[DEVICE]


async def _besieged_login_with(ctx: ServiceContext, login: str, cookie: str) -> int:
    """Put the login name into its back-off from elsewhere, then try it with `cookie`."""
    async with make_client(ctx, ip="198.51.100.66") as attacker:
        for _ in range(5):
            await start_login(attacker, login, "guess")
    async with make_client(ctx, ip="198.51.100.11") as customer:
        customer.cookies.set(DEVICE, cookie)
        return (await start_login(customer, login, NEW)).status_code


async def test_a_device_cookie_outlives_no_password_reset(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    await make_account(ctx, login="kept")
    await make_account(ctx, login="reset")
    kept, reset = await _device_cookie(ctx, "kept"), await _device_cookie(ctx, "reset")
    await _reset(ctx, client, "reset")
    # The control: a cookie of an account whose password did not change still works.
    async with make_client(ctx, ip="198.51.100.66") as attacker:
        for _ in range(5):
            await start_login(attacker, "kept", "guess")
    async with make_client(ctx, ip="198.51.100.11") as customer:
        customer.cookies.set(DEVICE, kept)
        assert (await start_login(customer, "kept")).status_code == 200
    assert await _besieged_login_with(ctx, "reset", reset) == 429


async def test_a_device_cookie_outlives_no_password_change(ctx: ServiceContext) -> None:
    await make_account(ctx, login="changed")
    cookie = await _device_cookie(ctx, "changed")
    async with make_client(ctx, ip="198.51.100.12") as customer:
        await sign_in(customer, ctx, "changed")
        await _change(customer)
    assert await _besieged_login_with(ctx, "changed", cookie) == 429


async def test_this_wasnt_me_alone_retires_the_device_cookies(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    """The forced reset raises the epoch again; here the link alone must have done it."""
    account = await make_account(ctx, login="disowned")
    cookie = await _device_cookie(ctx, "disowned")
    assert devices.device(ctx.keyring, cookie, "disowned") is not None
    epoch = await _epoch(ctx, account.id)
    path = await not_me_path(ctx, "login_confirmation", account.id)
    assert (await client.post(path)).status_code == 200
    assert await _epoch(ctx, account.id) == epoch + 1
    assert devices.device(ctx.keyring, cookie, "disowned").epoch == epoch  # type: ignore[union-attr]


async def _epoch(ctx: ServiceContext, account_id: uuid.UUID) -> int:
    async with ctx.db.transaction() as session:
        account = await session.get(Account, account_id)
        assert account is not None
        return account.credential_epoch
