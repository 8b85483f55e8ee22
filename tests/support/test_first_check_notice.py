"""The customer is told at an authorization code's first valid check, once per code."""

from __future__ import annotations

import asyncio

import httpx

from authsvc.context import ServiceContext
from tests.factories import make_account
from tests.protection.helpers import sent
from tests.support.helpers import bearer_session, new_code, support_key, verify


async def test_the_first_valid_check_names_the_tool_and_the_purpose(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx, login="checked")
    me = await bearer_session(ctx, account)
    key = await support_key(ctx, name="helpdesk-chat")
    code = await new_code(client, me)
    assert (await verify(client, key, "checked", "000000")).json()["valid"] is False
    assert await sent(ctx, "auth_code_checked") == []  # a mismatch says nothing
    for purpose in ("ticket #9: new e-mail", "ticket #9 again", None):
        assert (await verify(client, key, "checked", code, purpose)).json()["valid"] is True
    notices = await sent(ctx, "auth_code_checked", account.id)
    assert [(n["tool"], n["purpose"]) for n in notices] == [
        ("helpdesk-chat", "ticket #9: new e-mail")
    ]
    # A new code is a new first check.
    code = await new_code(client, me)
    await verify(client, key, "checked", code, None)
    assert [n["purpose"] for n in await sent(ctx, "auth_code_checked")][-1] == "-"


async def test_concurrent_first_checks_queue_exactly_one_notice(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    """The notice is queued by the statement that counts the check, so of twenty checks
    at once exactly one is the first, whichever wins the row."""
    account = await make_account(ctx)
    code = await new_code(client, await bearer_session(ctx, account))
    key = await support_key(ctx)
    answers = await asyncio.gather(*(verify(client, key, account.login, code) for _ in range(20)))
    assert all(answer.json()["valid"] is True for answer in answers)
    assert len(await sent(ctx, "auth_code_checked", account.id)) == 1
