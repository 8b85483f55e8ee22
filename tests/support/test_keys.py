from __future__ import annotations

import httpx
from sqlalchemy import select

from authsvc.context import ServiceContext
from authsvc.core.crypto import token_digest
from authsvc.support import keys
from authsvc.support.models import SupportKey
from tests.conftest import make_client, with_settings
from tests.factories import make_account
from tests.support.helpers import audit_rows, bearer_session, new_code, support_key, verify
from tests.test_http_basics import assert_problem


async def test_a_missing_key_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth-codes/verify", json={"customer": "kim", "code": "123456"})
    assert_problem(response, 401, "invalid_api_key")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_an_unknown_key_is_401(ctx: ServiceContext, client: httpx.AsyncClient) -> None:
    await support_key(ctx)
    made_up = "asv_" + "A" * 43
    assert_problem(await verify(client, made_up, "kim", "123456"), 401, "invalid_api_key")


async def test_what_cannot_be_a_key_is_401_without_an_audit_row(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    key = await support_key(ctx)
    for token in ("A" * 47, key + "A" * 60, "asv_"):
        response = await verify(client, token, account.login, "123456")
        assert_problem(response, 401, "invalid_api_key")
    assert await audit_rows(ctx) == []


async def test_a_missing_key_is_401_even_with_a_malformed_body(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post("/auth-codes/verify", json={}), 401, "invalid_api_key")


async def test_an_unknown_key_is_401_whatever_its_body(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    """The key comes first: a caller without a live key learns nothing about the body."""
    made_up = {"authorization": "Bearer asv_" + "A" * 43}
    for content in (b"{}", b'{"customer": '):
        response = await client.post(
            "/auth-codes/verify",
            content=content,
            headers={**made_up, "content-type": "application/json"},
        )
        assert_problem(response, 401, "invalid_api_key")
    malformed = await client.post(
        "/auth-codes/verify", content=b"{", headers={"authorization": "Bearer x"}
    )
    assert_problem(malformed, 401, "invalid_api_key")
    assert await audit_rows(ctx) == []


async def test_a_session_token_is_not_a_support_key(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    me = await bearer_session(ctx, await make_account(ctx))
    token = me["authorization"].removeprefix("Bearer ")
    assert_problem(await verify(client, token, "kim", "123456"), 401, "invalid_api_key")


async def test_a_revoked_key_is_401(ctx: ServiceContext, client: httpx.AsyncClient) -> None:
    account = await make_account(ctx)
    code = await new_code(client, await bearer_session(ctx, account))
    key = await support_key(ctx, name="old-tool")
    assert (await verify(client, key, account.login, code)).json()["valid"] is True
    async with ctx.db.transaction() as session:
        await keys.revoke_key(session, name="old-tool", now=ctx.clock.now())
    assert_problem(await verify(client, key, account.login, code), 401, "invalid_api_key")


async def test_a_key_without_the_scope_is_403_and_audited(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    code = await new_code(client, await bearer_session(ctx, account))
    key = await support_key(ctx, name="reporting", scopes=["reports:read"])
    body = assert_problem(await verify(client, key, account.login, code), 403, "insufficient_scope")
    assert "valid" not in body
    [row] = await audit_rows(ctx)
    assert (row.result, row.account_id) == ("insufficient_scope", account.id)


async def test_a_key_over_its_rate_gets_429_with_retry_after(ctx: ServiceContext) -> None:
    limited = with_settings(ctx, support_key_rate_limit=3)
    account = await make_account(ctx)
    key = await support_key(ctx, name="busy-tool")
    other_key = await support_key(ctx, name="calm-tool")
    async with make_client(limited) as client:
        code = await new_code(client, await bearer_session(ctx, account))
        for _ in range(3):
            assert (await verify(client, key, account.login, code)).status_code == 200
        refused = await verify(client, key, account.login, code)
        # The limit is per key: another tool is not affected.
        assert (await verify(client, other_key, account.login, code)).status_code == 200
    body = assert_problem(refused, 429, "too_many_attempts")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert body["retry_after"] == int(refused.headers["retry-after"])
    results = [row.result for row in await audit_rows(ctx)]
    assert results == ["valid", "valid", "valid", "rate_limited", "valid"]


async def test_keys_are_random_prefixed_and_stored_only_as_a_digest(ctx: ServiceContext) -> None:
    first = await support_key(ctx, name="one")
    second = await support_key(ctx, name="two")
    assert first != second
    assert first.startswith("asv_") and len(first) >= 4 + 43  # 256 bits in base64url
    async with ctx.db.transaction() as session:
        stored = (await session.execute(select(SupportKey).order_by(SupportKey.name))).scalars()
        rows = list(stored)
    assert [row.key_digest for row in rows] == [token_digest(first), token_digest(second)]
    for row in rows:
        assert first.encode() not in row.key_digest and second.encode() not in row.key_digest
        assert row.scopes == ["auth-codes:verify"]
