"""Races against the real PostgreSQL: attempts are counted before the code is compared."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
from sqlalchemy import select

from authsvc.auth_codes.models import AuthCode
from authsvc.context import ServiceContext
from authsvc.support import service as support
from tests.factories import make_account
from tests.support.helpers import audit_rows, bearer_session, new_code, support_key, verify
from tests.util import wrong


async def test_fifty_concurrent_wrong_guesses_get_exactly_five_evaluated(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    code = await new_code(client, await bearer_session(ctx, account))
    key = await support_key(ctx)
    responses = await asyncio.gather(
        *(verify(client, key, account.login, wrong(code)) for _ in range(50))
    )
    assert {r.status_code for r in responses} == {200}
    reasons = Counter(r.json()["reason"] for r in responses)
    assert reasons == {"mismatch": 5, "locked": 45}
    assert (await verify(client, key, account.login, code)).json()["reason"] == "locked"
    assert len(await audit_rows(ctx)) == 51


async def _check(ctx: ServiceContext, key: str, customer: str, code: str) -> str:
    verdict = await support.verify(
        ctx, token=key, customer=customer, code=code, purpose=None, client_ip="192.0.2.1"
    )
    return "valid" if verdict.valid else str(verdict.reason)


async def test_concurrent_right_codes_never_spend_an_attempt(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    """4 wrong and 46 right guesses at once, each on its own connection: never locked."""
    account = await make_account(ctx)
    code = await new_code(client, await bearer_session(ctx, account))
    key = await support_key(ctx)
    guesses = [wrong(code)] * 4 + [code] * 46
    results = await asyncio.gather(*(_check(ctx, key, account.login, guess) for guess in guesses))
    assert Counter(results) == {"valid": 46, "mismatch": 4}
    async with ctx.db.transaction() as session:
        row = (await session.execute(select(AuthCode))).scalar_one()
    assert (row.mismatches, row.verifications, row.revoked_at) == (4, 46, None)
