"""Verified contacts over HTTP on a real PostgreSQL: a new e-mail address or phone number
applies only when the code sent to it is confirmed; the old address is told with a "this
wasn't me" link; wrong codes, expiry, re-authentication and hostile input are refused and
change nothing; concurrent confirmations apply once; the SMS budgets hold for the phone."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from authsvc.accounts.models import Account
from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from authsvc.delivery.models import OutboxMessage
from authsvc.links import service as links
from tests.conftest import make_client, with_settings
from tests.contacts.helpers import (
    account_row,
    changes_count,
    code_message,
    confirm,
    read_code,
)
from tests.factories import make_account
from tests.factors.helpers import reauthenticated
from tests.protection.helpers import not_me_path, sent
from tests.support.helpers import bearer_session
from tests.test_http_basics import assert_problem

NEW_MOBILE = "+48 601 234 567"
NEW_MOBILE_E164 = "+48601234567"


async def test_an_email_change_applies_when_the_new_address_confirms_its_code(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx, email="old@example.com")
    headers = await reauthenticated(ctx, client, account)
    asked = await client.post("/account/email", json={"email": "New@Example.com"}, headers=headers)
    assert asked.status_code == 202, asked.text
    body = asked.json()
    assert body.keys() == {"change_id", "expires_at"}
    message = await code_message(ctx, account.id)
    assert (message.channel, message.recipient) == ("email", "New@example.com")
    # Nothing changes before the code is confirmed.
    assert (await client.get("/factors", headers=headers)).json()["email"] == {
        "address": "old@example.com", "verified": True,
    }  # fmt: skip
    code = await read_code(ctx, account.id)
    done = await confirm(client, "email", body["change_id"], code, headers)
    assert done.status_code == 204, done.text
    assert (await client.get("/factors", headers=headers)).json()["email"] == {
        "address": "New@example.com", "verified": True,
    }  # fmt: skip
    notice = (await sent(ctx, "email_changed", account.id))[-1]
    assert notice["new_value"] == "New@example.com"
    async with ctx.db.transaction() as session:
        told = await session.get(OutboxMessage, await _latest_id(ctx, "email_changed"))
        assert told is not None and told.recipient == "old@example.com"
    # The link of the notice secures the account, as every "this wasn't me" link does,
    # and puts the old address back: the reset code must not go to whoever changed it.
    path = await not_me_path(ctx, "email_changed", account.id)
    assert (await client.post(path)).status_code == 200
    row = await account_row(ctx, account.id)
    assert row.password_reset_required and row.email == "old@example.com"
    assert (await client.get("/factors", headers=headers)).status_code == 401
    async with ctx.db.transaction() as session:
        secured = await session.get(OutboxMessage, await _latest_id(ctx, "not_me_done"))
        assert secured is not None and secured.recipient == "old@example.com"


async def _latest_id(ctx: ServiceContext, template: str) -> object:
    from sqlalchemy import select

    async with ctx.db.transaction() as session:
        query = (
            select(OutboxMessage.id)
            .where(OutboxMessage.template == template)
            .order_by(OutboxMessage.created_at.desc())
        )
        return (await session.execute(query)).scalars().first()


async def test_a_phone_change_texts_the_new_number_and_clears_a_number_set_aside(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    async with ctx.db.transaction() as session:  # a number migration 0009 set aside
        await session.execute(
            update(Account).where(Account.id == account.id).values(phone_invalid="+48221234567")
        )
    headers = await reauthenticated(ctx, client, account)
    # No phone yet: SMS cannot be the preferred step.
    refused = await client.put("/factors/preferred", json={"factor": "sms"}, headers=headers)
    assert_problem(refused, 409, "factor_not_enrolled")
    asked = await client.post("/account/phone", json={"phone": NEW_MOBILE}, headers=headers)
    assert asked.status_code == 202, asked.text
    message = await code_message(ctx, account.id)
    assert (message.channel, message.recipient) == ("sms", NEW_MOBILE_E164)
    code = await read_code(ctx, account.id)
    done = await confirm(client, "phone", asked.json()["change_id"], code, headers)
    assert done.status_code == 204, done.text
    row = await account_row(ctx, account.id)
    assert (row.phone, row.phone_invalid) == (NEW_MOBILE_E164, None)
    factors = (await client.get("/factors", headers=headers)).json()
    assert factors["phone"] == {"number": NEW_MOBILE_E164, "verified": True}
    notice = (await sent(ctx, "phone_changed", account.id))[-1]
    assert notice["_channel"] == "email" and notice["new_value"] == NEW_MOBILE_E164
    assert notice["not_me_url"].startswith(f"{ctx.settings.public_url}{links.PATH}")
    chosen = await client.put("/factors/preferred", json={"factor": "sms"}, headers=headers)
    assert chosen.status_code == 200, chosen.text


async def test_wrong_codes_count_down_then_the_change_is_exhausted(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    headers = await reauthenticated(ctx, client, account)
    asked = await client.post("/account/email", json={"email": "n@example.com"}, headers=headers)
    change_id = asked.json()["change_id"]
    code = await read_code(ctx, account.id)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1, 0):
        answer = await confirm(client, "email", change_id, wrong, headers)
        assert assert_problem(answer, 401, "invalid_code")["attempts_left"] == left
    late = await confirm(client, "email", change_id, code, headers)
    assert assert_problem(late, 410, "change_expired")["reason"] == "exhausted"
    assert (await account_row(ctx, account.id)).email == account.email


async def test_a_malformed_code_spends_an_attempt(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    headers = await reauthenticated(ctx, client, account)
    asked = await client.post("/account/email", json={"email": "n@example.com"}, headers=headers)
    answer = await confirm(client, "email", asked.json()["change_id"], "12x456", headers)
    assert assert_problem(answer, 401, "invalid_code")["attempts_left"] == 4


async def test_a_code_expires_after_ten_minutes(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    account = await make_account(ctx)
    headers = await reauthenticated(ctx, client, account)
    asked = await client.post("/account/email", json={"email": "n@example.com"}, headers=headers)
    code = await read_code(ctx, account.id)
    clock.advance(timedelta(minutes=10))
    late = await confirm(client, "email", asked.json()["change_id"], code, headers)
    assert assert_problem(late, 410, "change_expired")["reason"] == "expired"
    assert (await account_row(ctx, account.id)).email == account.email


async def test_a_code_just_before_expiry_still_works(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    account = await make_account(ctx)
    headers = await reauthenticated(ctx, client, account)
    asked = await client.post("/account/email", json={"email": "n@example.com"}, headers=headers)
    code = await read_code(ctx, account.id)
    clock.advance(timedelta(minutes=10) - timedelta(seconds=1))
    done = await confirm(client, "email", asked.json()["change_id"], code, headers)
    assert done.status_code == 204, done.text


async def test_a_new_request_replaces_the_pending_code(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    headers = await reauthenticated(ctx, client, account)
    first = await client.post("/account/email", json={"email": "a@example.com"}, headers=headers)
    first_code = await read_code(ctx, account.id)
    await client.post("/account/email", json={"email": "b@example.com"}, headers=headers)
    old = await confirm(client, "email", first.json()["change_id"], first_code, headers)
    assert assert_problem(old, 410, "change_expired")["reason"] == "used"
    assert (await account_row(ctx, account.id)).email == account.email


@pytest.mark.parametrize(("path", "body"), [
    ("/account/email", {"email": "n@example.com"}),
    ("/account/phone", {"phone": NEW_MOBILE}),
])  # fmt: skip
async def test_a_change_needs_a_recent_reauthentication(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock, path: str, body: object
) -> None:
    account = await make_account(ctx)
    never = await bearer_session(ctx, account)
    assert_problem(await client.post(path, json=body, headers=never), 403,
                   "reauthentication_required")  # fmt: skip
    headers = await reauthenticated(ctx, client, account)
    clock.advance(ctx.settings.reauth_window + timedelta(seconds=1))
    assert_problem(await client.post(path, json=body, headers=headers), 403,
                   "reauthentication_required")  # fmt: skip
    assert await changes_count(ctx) == 0


async def test_another_accounts_change_is_not_found(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    owner = await make_account(ctx)
    headers = await reauthenticated(ctx, client, owner)
    asked = await client.post("/account/email", json={"email": "n@example.com"}, headers=headers)
    code = await read_code(ctx, owner.id)
    stranger = await bearer_session(ctx, await make_account(ctx))
    answer = await confirm(client, "email", asked.json()["change_id"], code, stranger)
    assert_problem(answer, 404, "change_not_found")
    # An e-mail change is not confirmed as a phone change either.
    wrong_kind = await confirm(client, "phone", asked.json()["change_id"], code, headers)
    assert_problem(wrong_kind, 404, "change_not_found")
    assert (await account_row(ctx, owner.id)).email == owner.email


@pytest.mark.parametrize(("email", "code", "reason"), [
    ("not an address", "invalid_email", "invalid"),
    ("a@b", "invalid_email", "invalid"),
    ("<script>@example.com", "invalid_email", "invalid"),
    ("x@example.com\r\nBcc: victim@example.com", "invalid_request", None),
    ("x@example.com\u0000", "invalid_request", None),
    ("a" * 250 + "@example.com", "invalid_request", None),
    ("", "invalid_request", None),
    ("OLD@example.com", "invalid_email", "unchanged"),
])  # fmt: skip
async def test_a_hostile_email_is_a_clear_422_and_changes_nothing(
    ctx: ServiceContext, client: httpx.AsyncClient, email: str, code: str, reason: str | None
) -> None:
    account = await make_account(ctx, email="old@example.com")
    headers = await reauthenticated(ctx, client, account)
    answer = await client.post("/account/email", json={"email": email}, headers=headers)
    body = assert_problem(answer, 422, code)
    assert body.get("reason") == reason
    assert await changes_count(ctx) == 0
    assert await sent(ctx, "contact_code") == []


@pytest.mark.parametrize(("phone", "code", "reason"), [
    ("+48 601 ABC DEF", "invalid_phone", "invalid"),
    ("601234567", "invalid_phone", "invalid"),  # no country code
    ("+48 22 123 45 67", "invalid_phone", "not_mobile"),
    ("+48 700 123 456", "invalid_phone", "not_mobile"),  # premium rate
    ("+44 7400 123456", "invalid_phone", "country_not_allowed"),
    ("+48601234567\n", "invalid_request", None),
    ("+4" + "8" * 100, "invalid_request", None),
    ("+48 600 000 000", "invalid_phone", "unchanged"),  # the account's own
])  # fmt: skip
async def test_a_hostile_phone_is_a_clear_422_and_changes_nothing(
    ctx: ServiceContext, client: httpx.AsyncClient, phone: str, code: str, reason: str | None
) -> None:
    account = await make_account(ctx, phone="+48600000000")
    headers = await reauthenticated(ctx, client, account)
    answer = await client.post("/account/phone", json={"phone": phone}, headers=headers)
    body = assert_problem(answer, 422, code)
    assert body.get("reason") == reason
    assert await changes_count(ctx) == 0
    assert await sent(ctx, "contact_code") == []
    assert (await account_row(ctx, account.id)).phone == "+48600000000"


async def test_concurrent_confirmations_with_the_right_code_apply_once(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    headers = await reauthenticated(ctx, client, account)
    asked = await client.post("/account/email", json={"email": "n@example.com"}, headers=headers)
    change_id = asked.json()["change_id"]
    code = await read_code(ctx, account.id)
    clients = [make_client(ctx) for _ in range(20)]
    try:
        answers = await asyncio.gather(
            *(confirm(c, "email", change_id, code, headers) for c in clients)
        )
    finally:
        for c in clients:
            await c.aclose()
    assert sorted(a.status_code for a in answers) == [204] + [410] * 19
    assert len(await sent(ctx, "email_changed", account.id)) == 1


async def test_a_phone_change_over_the_sms_budget_is_refused_and_changes_nothing(
    ctx: ServiceContext,
) -> None:
    limited = with_settings(ctx, sms_budget_number=1)
    account = await make_account(limited)
    async with make_client(limited) as client:
        headers = await reauthenticated(limited, client, account)
        first = await client.post("/account/phone", json={"phone": NEW_MOBILE}, headers=headers)
        assert first.status_code == 202, first.text
        again = await client.post("/account/phone", json={"phone": NEW_MOBILE}, headers=headers)
    assert_problem(again, 429, "sms_limited")
    assert 0 < int(again.headers["retry-after"]) <= 3600
    assert await changes_count(ctx) == 1  # the first one only: no code went by e-mail
    assert [m["_channel"] for m in await sent(ctx, "contact_code")] == ["sms"]


async def test_this_wasnt_me_takes_away_a_phone_that_was_added(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    headers = await reauthenticated(ctx, client, account)
    asked = await client.post("/account/phone", json={"phone": NEW_MOBILE}, headers=headers)
    code = await read_code(ctx, account.id)
    assert (await confirm(client, "phone", asked.json()["change_id"], code, headers)).is_success
    chosen = await client.put("/factors/preferred", json={"factor": "sms"}, headers=headers)
    assert chosen.status_code == 200, chosen.text
    assert (await client.post(await not_me_path(ctx, "phone_changed", account.id))).is_success
    row = await account_row(ctx, account.id)
    assert (row.phone, row.channel, row.preferred_factor) == (None, "email", None)


async def test_this_wasnt_me_leaves_an_address_changed_again_since(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    account = await make_account(ctx, email="old@example.com")
    headers = await reauthenticated(ctx, client, account)
    for address in ("first@example.com", "second@example.com"):
        clock.advance(timedelta(seconds=1))  # each code message its own time: the latest
        asked = await client.post("/account/email", json={"email": address}, headers=headers)
        code = await read_code(ctx, account.id)
        assert (await confirm(client, "email", asked.json()["change_id"], code, headers)).is_success
    first_notice = (await sent(ctx, "email_changed", account.id))[0]["not_me_url"]
    assert (await client.post(first_notice.removeprefix(ctx.settings.public_url or ""))).is_success
    row = await account_row(ctx, account.id)
    assert row.email == "second@example.com" and row.password_reset_required


async def test_an_account_gets_five_codes_to_new_addresses_an_hour(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    account = await make_account(ctx)
    headers = await reauthenticated(ctx, client, account)
    for n in range(5):
        body = {"email": f"n{n}@example.com"}
        assert (await client.post("/account/email", json=body, headers=headers)).status_code == 202
    over = await client.post("/account/phone", json={"phone": NEW_MOBILE}, headers=headers)
    assert_problem(over, 429, "too_many_attempts")
    assert int(over.headers["retry-after"]) > 0
    assert await changes_count(ctx) == 5
    clock.advance(ctx.settings.contact_change_window)
    headers = await reauthenticated(ctx, client, account)
    again = await client.post("/account/email", json={"email": "n5@example.com"}, headers=headers)
    assert again.status_code == 202, again.text
