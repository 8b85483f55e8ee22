"""Password change: the current password (throttled), the policy, other sessions end."""

from __future__ import annotations

import httpx

from authsvc.context import ServiceContext
from tests.conftest import PANEL_ORIGIN, make_client
from tests.factories import PASSWORD, make_account
from tests.login.flow import sign_in, start_login
from tests.protection.helpers import sent

NEW = "a brand new passphrase"


async def _change(
    client: httpx.AsyncClient, password: str = PASSWORD, new: str = NEW
) -> httpx.Response:
    body = {"password": password, "new_password": new}
    return await client.post("/password", json=body, headers={"origin": PANEL_ORIGIN})


async def test_a_change_ends_every_other_session_and_tells_the_customer(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx, login="changer")
    await sign_in(client, ctx, "changer")
    async with make_client(ctx, ip="198.51.100.8") as other:
        await sign_in(other, ctx, "changer")
        assert (await _change(client)).status_code == 204
        assert (await other.get("/session")).status_code == 401
    assert (await client.get("/session")).status_code == 200
    assert (await start_login(client, "changer")).status_code == 401
    assert (await start_login(client, "changer", NEW)).status_code == 200
    notices = await sent(ctx, "password_changed", account.id)
    assert [n["ip"] for n in notices] == ["203.0.113.7"]


async def test_the_policy_applies(ctx: ServiceContext, client: httpx.AsyncClient) -> None:
    await make_account(ctx, login="weakling")
    await sign_in(client, ctx, "weakling")
    for weak, reason in (
        ("short", "too_short"),
        ("password123", "common"),
        ("weakling", "same_as_login"),
    ):
        refused = await _change(client, new=weak)
        assert refused.status_code == 422 and refused.json()["code"] == "weak_password"
        assert refused.json()["reason"] == reason
    assert (await _change(client, new="short")).json()["limit"] == 8
    assert (await start_login(client, "weakling")).status_code == 200


async def test_a_wrong_current_password_counts_like_a_failed_login(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    await make_account(ctx, login="guessed")
    await sign_in(client, ctx, "guessed")
    statuses = [(await _change(client, password="wrong guess")).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    assert (await _change(client)).status_code == 429  # even the right one, while it lasts
    assert await sent(ctx, "password_changed") == []


async def test_without_a_session_nothing_changes(client: httpx.AsyncClient) -> None:
    refused = await client.post("/password", json={"password": PASSWORD, "new_password": NEW})
    assert refused.status_code == 401
