"""Steps of the authorization-code flow, for tests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import httpx
from sqlalchemy import select

from authsvc.accounts.models import Account
from authsvc.context import ServiceContext
from authsvc.core.crypto import random_token, token_digest
from authsvc.sessions.service import start_session
from authsvc.support import keys, repository
from authsvc.support.models import SupportKey, Verification
from tests.factories import PASSWORD


async def bearer_session(ctx: ServiceContext, account: Account) -> dict[str, str]:
    """Headers of a signed-in non-browser client of `account`."""
    async with ctx.db.transaction() as session:
        new = await start_session(
            session,
            account_id=account.id,
            now=ctx.clock.now(),
            settings=ctx.settings,
            ip="203.0.113.7",
            user_agent="tests",
        )
    return {"authorization": f"Bearer {new.token}"}


async def support_key(
    ctx: ServiceContext, name: str = "helpdesk", scopes: Sequence[str] = keys.DEFAULT_SCOPES
) -> str:
    """A key, as `support-keys create` makes it; scopes this version does not know (as a
    newer version sharing the database might grant) are written as they are."""
    async with ctx.db.transaction() as session:
        if set(scopes) <= set(keys.KNOWN_SCOPES):
            return (
                await keys.create_key(session, name=name, scopes=scopes, now=ctx.clock.now())
            ).key
        secret = keys.KEY_PREFIX + random_token(32)
        record = SupportKey(
            id=uuid.uuid4(),
            name=name,
            key_digest=token_digest(secret),
            scopes=list(scopes),
            created_at=ctx.clock.now(),
            revoked_at=None,
        )
        await repository.insert_key(session, record)
    return secret


async def generate(
    client: httpx.AsyncClient, me: dict[str, str], password: str = PASSWORD
) -> httpx.Response:
    return await client.post("/auth-codes", json={"password": password}, headers=me)


async def new_code(client: httpx.AsyncClient, me: dict[str, str]) -> str:
    response = await generate(client, me)
    assert response.status_code == 201, response.text
    code: str = response.json()["code"]
    return code


async def verify(
    client: httpx.AsyncClient,
    key: str,
    customer: str,
    code: str,
    purpose: str | None = "ticket #1",
) -> httpx.Response:
    body = {"customer": customer, "code": code}
    if purpose is not None:
        body["purpose"] = purpose
    return await client.post(
        "/auth-codes/verify", json=body, headers={"authorization": f"Bearer {key}"}
    )


async def audit_rows(ctx: ServiceContext) -> list[Verification]:
    async with ctx.db.transaction() as session:
        query = select(Verification).order_by(Verification.id)
        return list((await session.execute(query)).scalars().all())
