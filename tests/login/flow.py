"""Steps of the login flow, for tests."""

from __future__ import annotations

import uuid

import httpx

from authsvc.context import ServiceContext
from authsvc.delivery import outbox
from authsvc.login.models import LoginChallenge
from tests.factories import PASSWORD


async def start_login(
    client: httpx.AsyncClient, login: str, password: str = PASSWORD
) -> httpx.Response:
    return await client.post("/login", json={"login": login, "password": password})


async def challenge_row(ctx: ServiceContext, challenge_id: str | uuid.UUID) -> LoginChallenge:
    async with ctx.db.transaction() as session:
        challenge = await session.get(LoginChallenge, uuid.UUID(str(challenge_id)))
        assert challenge is not None
        return challenge


async def read_otp(ctx: ServiceContext, challenge_id: str | uuid.UUID) -> str:
    """The code as the customer would read it from the message in the outbox."""
    challenge = await challenge_row(ctx, challenge_id)
    assert challenge.message_id is not None, "no code was sent"
    async with ctx.db.transaction() as session:
        params = await outbox.read_params(session, ctx.keyring, challenge.message_id)
    assert params is not None
    return params["code"]


async def sign_in(client: httpx.AsyncClient, ctx: ServiceContext, login: str) -> httpx.Response:
    """The whole flow; returns the /login/verify response (with the session cookie)."""
    started = await start_login(client, login)
    assert started.status_code == 200, started.text
    challenge_id = started.json()["challenge_id"]
    code = await read_otp(ctx, challenge_id)
    verified = await client.post("/login/verify", json={"challenge_id": challenge_id, "code": code})
    assert verified.status_code == 200, verified.text
    return verified
