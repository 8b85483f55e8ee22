"""The customer's own sessions: listed with their device, ended one by one or all but
this one, refused at once everywhere. Each client here is its own app instance over the
one database, as replicas are."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from authsvc.context import ServiceContext
from tests.conftest import make_client
from tests.factories import make_account
from tests.login.flow import sign_in
from tests.support.helpers import generate, support_key, verify

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)


@asynccontextmanager
async def _browser(
    ctx: ServiceContext, login: str, ip: str, agent: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(ctx, ip=ip) as client:
        client.headers["user-agent"] = agent
        await sign_in(client, ctx, login)
        yield client


async def test_the_list_shows_each_session_with_its_device_and_marks_this_one(
    ctx: ServiceContext,
) -> None:
    await make_account(ctx, login="lister")
    async with (
        _browser(ctx, "lister", "198.51.100.1", FIREFOX) as laptop,
        _browser(ctx, "lister", "198.51.100.2", IPHONE) as phone,
    ):
        listed = (await laptop.get("/sessions")).json()
        assert len(listed) == 2
        mine = next(s for s in listed if s["current"])
        other = next(s for s in listed if not s["current"])
        assert (mine["ip"], mine["device"]) == ("198.51.100.1", "Firefox 120 on Windows")
        assert (other["ip"], other["device"]) == ("198.51.100.2", "Mobile Safari 17 on iOS")
        assert set(mine) == {"id", "created_at", "last_used_at", "ip", "device", "current"}
        # The phone sees the same two, from its side.
        assert [s["current"] for s in (await phone.get("/sessions")).json()].count(True) == 1


async def test_a_revoked_session_is_refused_at_once(ctx: ServiceContext) -> None:
    await make_account(ctx, login="revoker")
    async with (
        _browser(ctx, "revoker", "198.51.100.1", FIREFOX) as laptop,
        _browser(ctx, "revoker", "198.51.100.2", IPHONE) as phone,
    ):
        phone_id = next(s["id"] for s in (await phone.get("/sessions")).json() if s["current"])
        ended = await laptop.delete(f"/sessions/{phone_id}", headers={"origin": _origin(ctx)})
        assert ended.status_code == 204
        assert (await phone.get("/session")).status_code == 401
        assert (await laptop.get("/session")).status_code == 200
        # Gone from the list, and a second revoke finds nothing.
        assert [s["id"] for s in (await laptop.get("/sessions")).json()] != [phone_id]
        again = await laptop.delete(f"/sessions/{phone_id}", headers={"origin": _origin(ctx)})
        assert again.status_code == 404
        assert again.json()["code"] == "session_not_found"


async def test_another_accounts_session_cannot_be_revoked(ctx: ServiceContext) -> None:
    await make_account(ctx, login="alice")
    await make_account(ctx, login="mallory")
    async with (
        _browser(ctx, "alice", "198.51.100.1", FIREFOX) as alice,
        _browser(ctx, "mallory", "198.51.100.2", FIREFOX) as mallory,
    ):
        alice_id = (await alice.get("/sessions")).json()[0]["id"]
        refused = await mallory.delete(f"/sessions/{alice_id}", headers={"origin": _origin(ctx)})
        assert refused.status_code == 404
        assert (await alice.get("/session")).status_code == 200


async def test_ending_all_others_keeps_this_one_and_leaves_codes_alone(
    ctx: ServiceContext,
) -> None:
    await make_account(ctx, login="tidy")
    key = await support_key(ctx)
    async with (
        _browser(ctx, "tidy", "198.51.100.1", FIREFOX) as laptop,
        _browser(ctx, "tidy", "198.51.100.2", IPHONE) as phone,
        _browser(ctx, "tidy", "198.51.100.3", "curl/8.5.0") as script,
    ):
        code = (await generate(laptop, {"origin": _origin(ctx)})).json()["code"]
        ended = await laptop.delete("/sessions", headers={"origin": _origin(ctx)})
        assert ended.status_code == 204
        assert (await phone.get("/session")).status_code == 401
        assert (await script.get("/session")).status_code == 401
        assert [s["current"] for s in (await laptop.get("/sessions")).json()] == [True]
        # Authorization codes are not sessions: the code still verifies.
        assert (await verify(laptop, key, "tidy", code)).json()["valid"] is True


async def test_revoking_needs_the_pages_origin_with_a_cookie(ctx: ServiceContext) -> None:
    await make_account(ctx, login="csrf")
    async with _browser(ctx, "csrf", "198.51.100.1", FIREFOX) as laptop:
        assert (await laptop.delete("/sessions")).status_code == 403


def _origin(ctx: ServiceContext) -> str:
    return ctx.settings.allowed_origins[0]
