"""Password reset: the same answer for any login, a code by the account's channel, the
login code's limits, and a new password that ends every session but signs nobody in."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from tests.conftest import make_client, with_codes, with_settings
from tests.factories import PASSWORD, make_account
from tests.login.flow import sign_in, start_login
from tests.protection.helpers import sent

NEW = "a brand new passphrase"


async def _request(client: httpx.AsyncClient, login: str) -> httpx.Response:
    return await client.post("/password/reset", json={"login": login})


async def _confirm(
    client: httpx.AsyncClient, reset_id: str, code: str, new: str = NEW
) -> httpx.Response:
    body = {"reset_id": reset_id, "code": code, "new_password": new}
    return await client.post("/password/reset/confirm", json=body)


async def _reset_code(ctx: ServiceContext, login: str) -> str:
    return (await sent(ctx, "password_reset_code"))[-1]["code"]


async def test_an_unknown_login_gets_byte_for_byte_the_same_answer(
    ctx: ServiceContext, clock: MovableClock
) -> None:
    await make_account(ctx, login="real")
    answers = []
    for login in ("real", "ghost"):
        async with make_client(ctx, ip="198.51.100.40") as http:
            answers.append(await _request(http, login))
    real, ghost = answers
    assert real.status_code == ghost.status_code == 202

    def anonymised(response: httpx.Response) -> bytes:
        return re.sub(rb'"reset_id":"[0-9a-f-]{36}"', b'"reset_id":""', response.content)

    assert anonymised(real) == anonymised(ghost)
    skip = {"x-request-id", "date"}
    assert [(k, v) for k, v in real.headers.items() if k not in skip] == [
        (k, v) for k, v in ghost.headers.items() if k not in skip
    ]
    assert len(await sent(ctx, "password_reset_code")) == 1  # only the real one got mail


async def test_a_reset_sets_the_password_ends_sessions_clears_throttling_and_signs_nobody_in(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx, login="forgetful")
    async with make_client(ctx, ip="198.51.100.41") as laptop:
        await sign_in(laptop, ctx, "forgetful")
        async with make_client(ctx, ip="198.51.100.42") as attacker:
            for _ in range(5):
                await start_login(attacker, "forgetful", "guess")
            assert (await start_login(attacker, "forgetful")).status_code == 429

        reset_id = (await _request(client, "forgetful")).json()["reset_id"]
        done = await _confirm(client, reset_id, await _reset_code(ctx, "forgetful"))
        assert done.status_code == 204
        assert not done.cookies  # no session: the customer signs in with both steps
        assert (await laptop.get("/session")).status_code == 401
    assert (await start_login(client, "forgetful", PASSWORD)).status_code == 401
    assert (await start_login(client, "forgetful", NEW)).status_code == 200
    assert [n["ip"] for n in await sent(ctx, "password_reset_done", account.id)] == ["203.0.113.7"]
    # Used up: the same code again finds nothing to act on.
    again = await _confirm(client, reset_id, await _reset_code(ctx, "forgetful"), new="x" * 20)
    assert again.status_code == 410 and again.json()["reason"] == "used"


async def test_the_code_goes_by_the_accounts_channel(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    await make_account(ctx, login="texter", phone="+48601234789", channel="sms")
    await _request(client, "texter")
    assert (await sent(ctx, "password_reset_code"))[0]["_channel"] == "sms"


async def test_five_wrong_codes_end_the_reset(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    ctx = with_codes(ctx, "111111")
    await make_account(ctx, login="fumbler")
    async with make_client(ctx) as http:
        reset_id = (await _request(http, "fumbler")).json()["reset_id"]
        wrong = [await _confirm(http, reset_id, "222222") for _ in range(5)]
        assert [w.json()["attempts_left"] for w in wrong] == [4, 3, 2, 1, 0]
        exhausted = await _confirm(http, reset_id, "111111")
    assert exhausted.status_code == 410 and exhausted.json()["code"] == "reset_expired"
    assert exhausted.json()["reason"] == "exhausted"
    assert (await start_login(client, "fumbler")).status_code == 200  # unchanged


async def test_an_unknown_logins_reset_fails_like_a_wrong_code(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    real_id = (await _request(client, (await make_account(ctx)).login)).json()["reset_id"]
    ghost_id = (await _request(client, "nobody-here")).json()["reset_id"]
    for reset_id in (real_id, ghost_id):
        answer = await _confirm(client, reset_id, "000000")
        assert answer.status_code == 401
        assert answer.json()["code"] == "invalid_code"
        assert answer.json()["attempts_left"] == 4


async def test_the_code_expires_after_ten_minutes(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    await make_account(ctx, login="slow")
    reset_id = (await _request(client, "slow")).json()["reset_id"]
    code = await _reset_code(ctx, "slow")
    clock.advance(timedelta(minutes=10))
    expired = await _confirm(client, reset_id, code)
    assert expired.status_code == 410 and expired.json()["code"] == "reset_expired"
    assert expired.json()["reason"] == "expired"


async def test_resends_follow_the_login_codes_rules(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    ctx = with_codes(ctx, "111111", "222222", "333333", "444444")
    await make_account(ctx, login="impatient")
    async with make_client(ctx) as http:
        await _resends_follow_the_rules(ctx, http, clock)


async def _resends_follow_the_rules(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    reset_id = (await _request(client, "impatient")).json()["reset_id"]

    async def resend() -> httpx.Response:
        return await client.post("/password/reset/resend", json={"reset_id": reset_id})

    too_soon = await resend()
    assert too_soon.status_code == 429 and too_soon.headers["retry-after"] == "30"
    for _ in range(3):
        clock.advance(timedelta(seconds=30))
        assert (await resend()).status_code == 202
    clock.advance(timedelta(seconds=30))
    assert (await resend()).json()["code"] == "resend_limit_reached"
    assert [m["code"] for m in await sent(ctx, "password_reset_code")] == [
        "111111", "222222", "333333", "444444",
    ]  # fmt: skip
    assert (await _confirm(client, reset_id, "111111")).status_code == 401  # replaced
    assert (await _confirm(client, reset_id, "444444")).status_code == 204


async def test_requests_are_limited_per_login_whether_or_not_it_exists(
    ctx: ServiceContext,
) -> None:
    await make_account(ctx, login="popular")
    for login in ("popular", "phantom"):
        async with make_client(ctx, ip="198.51.100.50") as http:
            statuses = [(await _request(http, login)).status_code for _ in range(6)]
        assert statuses == [202] * 5 + [429]


async def test_a_weak_new_password_spends_the_attempt_but_not_the_reset(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    ctx = with_codes(ctx, "123456")
    await make_account(ctx, login="weakreset")
    async with make_client(ctx) as http:
        reset_id = (await _request(http, "weakreset")).json()["reset_id"]
        weak = await _confirm(http, reset_id, "123456", new="weakreset")
        assert weak.status_code == 422
        assert (weak.json()["reason"], weak.json()["attempts_left"]) == ("same_as_login", 4)
        assert (await _confirm(http, reset_id, "123456")).status_code == 204


async def test_requests_are_limited_per_address_across_logins(ctx: ServiceContext) -> None:
    limit = ctx.settings.password_reset_ip_limit
    async with make_client(ctx, ip="198.51.100.51") as http:
        statuses = [(await _request(http, f"someone-{n}")).status_code for n in range(limit + 1)]
    assert statuses == [202] * limit + [429]


async def _resend(client: httpx.AsyncClient, reset_id: str) -> httpx.Response:
    return await client.post("/password/reset/resend", json={"reset_id": reset_id})


async def test_resends_count_against_the_typed_logins_reset_limit(
    ctx: ServiceContext, clock: MovableClock
) -> None:
    """One reset and its resends are as many messages: with a limit of 3 an hour, the
    third resend and any new request for that login wait, known login or not."""
    ctx = with_settings(ctx, password_reset_limit=3)
    await make_account(ctx, login="resender")
    seen = []
    for login, ip in (("resender", "198.51.100.60"), ("no-such-resender", "198.51.100.61")):
        async with make_client(ctx, ip=ip) as http:
            reset_id = (await _request(http, login)).json()["reset_id"]
            answers = []
            for _ in range(3):
                clock.advance(timedelta(seconds=30))  # past the resend cooldown
                answers.append(await _resend(http, reset_id))
            answers.append(await _request(http, login))
        assert [a.status_code for a in answers] == [202, 202, 429, 429], login
        assert {a.json()["code"] for a in answers[2:]} == {"too_many_attempts"}
        assert all(int(a.headers["retry-after"]) > 0 for a in answers[2:])
        seen.append([(a.status_code, a.headers.get("retry-after")) for a in answers])
    assert seen[0] == seen[1]  # the same answers: nothing said about existence
    assert len(await sent(ctx, "password_reset_code")) == 3  # the request and two resends


async def test_resends_count_against_the_resenders_address(
    ctx: ServiceContext, clock: MovableClock
) -> None:
    ctx = with_settings(ctx, password_reset_ip_limit=2)
    await make_account(ctx, login="roamer")
    async with make_client(ctx, ip="198.51.100.62") as http:
        reset_id = (await _request(http, "roamer")).json()["reset_id"]
        clock.advance(timedelta(seconds=30))
        assert (await _resend(http, reset_id)).status_code == 202
        clock.advance(timedelta(seconds=30))
        refused = await _resend(http, reset_id)
        assert refused.status_code == 429 and refused.json()["code"] == "too_many_attempts"
    async with make_client(ctx, ip="198.51.100.63") as elsewhere:  # its own address's count
        assert (await _resend(elsewhere, reset_id)).status_code == 202
    assert len(await sent(ctx, "password_reset_code")) == 3
