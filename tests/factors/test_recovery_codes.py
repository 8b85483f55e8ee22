"""Recovery codes through the API on a real PostgreSQL: accepted in any case with or
without dashes, each used once even under concurrency, a notice on every use (a warning
at 3 or fewer), a new set replacing the old; and the operator's reset of the factors."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select

from authsvc.context import ServiceContext
from authsvc.factors.models import RecoveryCode, TotpFactor
from authsvc.protection.models import SecurityEvent
from tests.cli import run_cli
from tests.factories import make_account
from tests.factors.helpers import enroll_app, reauthenticated, second_step, verify
from tests.protection.helpers import sent
from tests.test_http_basics import assert_problem


async def test_a_recovery_code_finishes_a_login_in_any_case_and_spacing(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    app = await enroll_app(ctx, client, account)
    started = await second_step(client, account.login)
    typed = " " + app.recovery_codes[3].upper().replace("-", " ") + " "
    done = await verify(client, started["challenge_id"], recovery_code=typed)
    assert done.status_code == 200, done.text
    notice = (await sent(ctx, "recovery_code_used", account.id))[-1]
    assert notice["remaining"] == "9"
    confirmation = (await sent(ctx, "login_confirmation", account.id))[-1]
    assert confirmation["factor"] == "a recovery code"


async def test_a_recovery_code_works_once(ctx: ServiceContext, client: httpx.AsyncClient) -> None:
    account = await make_account(ctx)
    app = await enroll_app(ctx, client, account)
    first = await second_step(client, account.login)
    code = app.recovery_codes[0]
    assert (await verify(client, first["challenge_id"], recovery_code=code)).status_code == 200
    again = await second_step(client, account.login)
    reused = await verify(client, again["challenge_id"], recovery_code=code)
    body = assert_problem(reused, 401, "invalid_code")
    assert body["attempts_left"] == 4  # the challenge's attempts cover every kind of proof
    # The refused use wrote nothing else: no notice, and the challenge still finishes.
    assert len(await sent(ctx, "recovery_code_used", account.id)) == 1
    other = app.recovery_codes[1]
    assert (await verify(client, again["challenge_id"], recovery_code=other)).status_code == 200


async def test_concurrent_uses_of_one_recovery_code_give_one_session(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    app = await enroll_app(ctx, client, account)
    challenges = [(await second_step(client, account.login))["challenge_id"] for _ in range(10)]
    code = app.recovery_codes[0]
    answers = await asyncio.gather(*(verify(client, c, recovery_code=code) for c in challenges))
    assert sorted(a.status_code for a in answers) == [200] + [401] * 9
    async with ctx.db.transaction() as session:
        used = (await session.execute(select(RecoveryCode.used_at))).scalars().all()
    assert sum(u is not None for u in used) == 1


async def test_the_notice_warns_when_three_or_fewer_are_left(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    app = await enroll_app(ctx, client, account)
    for code in app.recovery_codes[:7]:
        started = await second_step(client, account.login)
        assert (
            await verify(client, started["challenge_id"], recovery_code=code)
        ).status_code == 200
    plain = [n["remaining"] for n in await sent(ctx, "recovery_code_used", account.id)]
    warned = [n["remaining"] for n in await sent(ctx, "recovery_code_used_low", account.id)]
    assert (plain, warned) == (["9", "8", "7", "6", "5", "4"], ["3"])


async def test_codes_are_stored_only_as_keyed_hashes(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    app = await enroll_app(ctx, client, account)
    async with ctx.db.transaction() as session:
        stored = (await session.execute(select(RecoveryCode.code_hash))).scalars().all()
    assert len(stored) == 10 and all(len(h) == 32 for h in stored)
    for code in app.recovery_codes:
        plain = code.replace("-", "").encode()
        assert not any(plain in h or code.encode() in h for h in stored)


async def test_a_new_set_replaces_the_old_and_tells_the_customer(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    app = await enroll_app(ctx, client, account)
    headers = await reauthenticated(ctx, client, account)
    created = await client.post("/factors/recovery-codes", headers=headers)
    assert created.status_code == 201, created.text
    fresh = created.json()["recovery_codes"]
    assert len(fresh) == 10 and not set(fresh) & set(app.recovery_codes)
    started = await second_step(client, account.login)
    old = await verify(client, started["challenge_id"], recovery_code=app.recovery_codes[0])
    assert_problem(old, 401, "invalid_code")
    assert (
        await verify(client, started["challenge_id"], recovery_code=fresh[0])
    ).status_code == 200
    changes = [n["change"] for n in await sent(ctx, "factor_changed", account.id)]
    assert changes[-1].startswith("A new set of recovery codes was created")


async def test_recovery_codes_need_a_strong_factor(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    headers = await reauthenticated(ctx, client, account)
    refused = await client.post("/factors/recovery-codes", headers=headers)
    assert_problem(refused, 409, "strong_factor_required")
    async with ctx.db.transaction() as session:
        assert (await session.execute(select(RecoveryCode))).first() is None


async def test_malformed_proofs_are_wrong_attempts_or_422(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    await enroll_app(ctx, client, account)
    started = await second_step(client, account.login)
    challenge_id = started["challenge_id"]
    wrong = await verify(client, challenge_id, recovery_code="not-a-code")
    assert assert_problem(wrong, 401, "invalid_code")["attempts_left"] == 4
    two = {"challenge_id": challenge_id, "code": "123456", "recovery_code": "x"}
    both = await client.post("/login/verify", json=two)
    neither = await client.post("/login/verify", json={"challenge_id": challenge_id})
    assert both.status_code == 422 and neither.status_code == 422
    assert both.headers["content-type"] == "application/problem+json"


async def test_the_operator_reset_clears_the_factors_audits_and_tells_the_customer(
    ctx: ServiceContext, client: httpx.AsyncClient, cli_env: dict[str, str]
) -> None:
    account = await make_account(ctx, login="lost-phone")
    await enroll_app(ctx, client, account)
    done = run_cli("accounts", "reset-factors", "lost-phone", "--reason", "ticket #881",
                   env=cli_env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    async with ctx.db.transaction() as session:
        assert (await session.execute(select(TotpFactor))).first() is None
        assert (await session.execute(select(RecoveryCode))).first() is None
        event = (await session.execute(select(SecurityEvent))).scalar_one()
    assert (event.kind, event.detail) == ("factors_reset", "ticket #881")
    assert (await sent(ctx, "factor_changed", account.id))[-1]["change"].startswith(
        "Our support team removed the authenticator app"
    )
    started = await second_step(client, account.login)
    assert (started["factor"], started["factors"]) == ("email", ["email"])
    unknown = run_cli("accounts", "reset-factors", "nobody", "--reason", "x", env=cli_env)
    assert unknown.returncode != 0
