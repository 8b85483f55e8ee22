"""Steps of the second-factor flows, for tests: a signed-in, re-authenticated client, an
authenticator app set up with codes computed by pyotp (an implementation we did not
write), and a login up to its second step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pyotp

from authsvc.accounts.models import Account
from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from tests.factories import PASSWORD
from tests.login.flow import start_login
from tests.support.helpers import bearer_session


def app_code(secret: str, moment: datetime) -> str:
    """What an authenticator app shows at `moment`."""
    return pyotp.TOTP(secret).at(moment)


async def reauthenticated(
    ctx: ServiceContext, client: httpx.AsyncClient, account: Account
) -> dict[str, str]:
    """Headers of a signed-in client of `account` whose password was just re-entered."""
    headers = await bearer_session(ctx, account)
    done = await client.post(
        "/session/reauthenticate", json={"password": PASSWORD}, headers=headers
    )
    assert done.status_code == 200, done.text
    return headers


@dataclass(frozen=True)
class App:
    secret: str
    recovery_codes: list[str]


async def enroll_app(ctx: ServiceContext, client: httpx.AsyncClient, account: Account) -> App:
    """Set up an authenticator app; the clock then moves past the step the
    confirmation spent, so the next code is a fresh one."""
    headers = await reauthenticated(ctx, client, account)
    started = await client.post("/factors/totp", headers=headers)
    assert started.status_code == 201, started.text
    body = started.json()
    code = app_code(body["secret"], ctx.clock.now())
    path = f"/factors/totp/{body['factor_id']}/confirm"
    confirmed = await client.post(path, json={"code": code}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    next_step(ctx)
    return App(body["secret"], confirmed.json().get("recovery_codes") or [])


def next_step(ctx: ServiceContext, steps: int = 1) -> None:
    clock = ctx.clock
    assert isinstance(clock, MovableClock)
    clock.advance(timedelta(seconds=30 * steps))


async def second_step(client: httpx.AsyncClient, login: str) -> dict[str, object]:
    """`/login`'s answer for the right password."""
    started = await start_login(client, login)
    assert started.status_code == 200, started.text
    body: dict[str, object] = started.json()
    return body


async def verify(client: httpx.AsyncClient, challenge_id: object, **proof: str) -> httpx.Response:
    return await client.post("/login/verify", json={"challenge_id": challenge_id, **proof})
