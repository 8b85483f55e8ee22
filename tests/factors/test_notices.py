"""Every notice of a factor change carries a "this wasn't me" link (SPEC section 2,
"strong factors first"), and the link secures the account like the login's."""

from __future__ import annotations

import uuid

import httpx

from authsvc.context import ServiceContext
from authsvc.links import service as links
from tests.contacts.helpers import account_row
from tests.factories import make_account
from tests.factors.helpers import enroll_app, reauthenticated
from tests.protection.helpers import sent


async def _link_states(ctx: ServiceContext, account_id: uuid.UUID) -> list[str]:
    notices = await sent(ctx, "factor_changed", account_id)
    states: list[str] = []
    async with ctx.db.transaction() as session:
        for notice in notices:
            token = notice["not_me_url"].removeprefix(f"{ctx.settings.public_url}{links.PATH}")
            states.append(await links.state(session, ctx.keyring, token, now=ctx.clock.now()))
    return states


async def test_each_factor_change_notice_carries_its_own_usable_link(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    await enroll_app(ctx, client, account)  # totp_added
    headers = await reauthenticated(ctx, client, account)
    made = await client.post("/factors/recovery-codes", headers=headers)
    assert made.status_code == 201, made.text
    removed = await client.delete("/factors/totp", headers=headers)
    assert removed.status_code == 204, removed.text
    notices = await sent(ctx, "factor_changed", account.id)
    assert len(notices) == 3
    urls = {notice["not_me_url"] for notice in notices}
    assert len(urls) == 3
    assert all(url.startswith(f"{ctx.settings.public_url}{links.PATH}") for url in urls)
    assert await _link_states(ctx, account.id) == ["usable"] * 3


async def test_the_link_of_a_factor_notice_secures_the_account(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    await enroll_app(ctx, client, account)
    url = (await sent(ctx, "factor_changed", account.id))[-1]["not_me_url"]
    done = await client.post(url.removeprefix(ctx.settings.public_url or ""))
    assert done.status_code == 200, done.text
    assert (await account_row(ctx, account.id)).password_reset_required
    assert (await sent(ctx, "not_me_done", account.id)) != []
