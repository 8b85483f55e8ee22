"""The authenticator app through the API on a real PostgreSQL: enrolment behind the
re-authentication window, login with the app (nothing sent), the replay rule in the
statement that accepts a step, the secret sealed at rest across a key rotation."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import re
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from authsvc.context import ServiceContext
from authsvc.core.crypto import Keyring
from authsvc.delivery.models import OutboxMessage
from authsvc.factors import sealing
from authsvc.factors.models import TotpFactor
from authsvc.login.models import LoginChallenge
from authsvc.sessions.models import UserSession
from tests.conftest import TEST_SECRET_KEY, make_client, with_settings
from tests.factories import PASSWORD, make_account
from tests.factors.helpers import (
    app_code,
    enroll_app,
    next_step,
    reauthenticated,
    second_step,
    verify,
)
from tests.login.flow import read_otp, start_login
from tests.protection.helpers import sent
from tests.support.helpers import bearer_session
from tests.test_http_basics import assert_problem
from tests.util import logged_text


async def _messages(ctx: ServiceContext, template: str) -> int:
    async with ctx.db.transaction() as session:
        query = select(func.count()).where(OutboxMessage.template == template)
        return int((await session.execute(query)).scalar_one())


async def test_enrolment_answers_the_secret_its_uri_and_a_qr_code(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx, login="anna")
    headers = await reauthenticated(ctx, client, account)
    started = await client.post("/factors/totp", headers=headers)
    assert started.status_code == 201, started.text
    body = started.json()
    assert len(base64.b32decode(body["secret"])) == 20
    uri = urlsplit(body["otpauth_uri"])
    issuer = urlsplit(ctx.settings.public_url or "").hostname
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert uri.path == f"/{issuer}:anna"
    assert parse_qs(uri.query)["secret"] == [body["secret"]]
    assert parse_qs(uri.query)["issuer"] == [issuer]
    assert body["qr_svg"].startswith("<svg") and "<script" not in body["qr_svg"]
    assert started.headers["cache-control"] == "no-store"


async def test_the_issuer_is_configurable(ctx: ServiceContext) -> None:
    ctx = with_settings(ctx, totp_issuer="Hosting Panel")
    account = await make_account(ctx, login="anna")
    async with make_client(ctx) as client:
        headers = await reauthenticated(ctx, client, account)
        body = (await client.post("/factors/totp", headers=headers)).json()
    assert urlsplit(body["otpauth_uri"]).path == "/Hosting%20Panel:anna"


async def test_a_pending_app_does_not_change_the_login_until_confirmed(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    headers = await reauthenticated(ctx, client, account)
    assert (await client.post("/factors/totp", headers=headers)).status_code == 201
    started = await second_step(client, account.login)
    assert (started["factor"], started["factors"]) == ("email", ["email"])


async def test_confirming_activates_the_app_issues_recovery_codes_and_tells_the_customer(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    app = await enroll_app(ctx, client, account)
    assert len(app.recovery_codes) == 10 and len(set(app.recovery_codes)) == 10
    notices = await sent(ctx, "factor_changed", account.id)
    assert [n["change"] for n in notices] == ["An authenticator app was set up for two-step login."]
    headers = await bearer_session(ctx, account)
    factors = (await client.get("/factors", headers=headers)).json()
    assert factors["preferred"] == "totp" and factors["codes_fallback"] is False
    assert factors["totp"] is not None
    assert factors["recovery_codes"]["remaining"] == 10


async def test_login_with_the_app_sends_nothing_and_the_confirmation_names_it(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    app = await enroll_app(ctx, client, account)
    codes_before = await _messages(ctx, "login_otp")
    started = await second_step(client, account.login)
    assert started["factor"] == "totp"
    assert started["factors"] == ["totp", "recovery_code"]
    assert await _messages(ctx, "login_otp") == codes_before  # nothing sent
    done = await verify(client, started["challenge_id"], code=app_code(app.secret, ctx.clock.now()))
    assert done.status_code == 200, done.text
    assert "set-cookie" in done.headers
    confirmation = (await sent(ctx, "login_confirmation", account.id))[-1]
    assert confirmation["factor"] == "the authenticator app"


async def test_the_enrolment_code_spends_its_step(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    headers = await reauthenticated(ctx, client, account)
    body = (await client.post("/factors/totp", headers=headers)).json()
    code = app_code(body["secret"], ctx.clock.now())
    path = f"/factors/totp/{body['factor_id']}/confirm"
    assert (await client.post(path, json={"code": code}, headers=headers)).status_code == 200
    started = await second_step(client, account.login)
    replayed = await verify(client, started["challenge_id"], code=code)
    assert_problem(replayed, 401, "invalid_code")


async def test_a_code_once_accepted_is_never_accepted_again(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    app = await enroll_app(ctx, client, account)
    code = app_code(app.secret, ctx.clock.now())
    first = await second_step(client, account.login)
    assert (await verify(client, first["challenge_id"], code=code)).status_code == 200
    again = await second_step(client, account.login)
    assert_problem(await verify(client, again["challenge_id"], code=code), 401, "invalid_code")
    # Nor an earlier step still inside the skew: steps only move forward.
    earlier = app_code(app.secret, ctx.clock.now() - timedelta(seconds=30))
    assert_problem(await verify(client, again["challenge_id"], code=earlier), 401, "invalid_code")


async def test_a_replayed_step_writes_nothing_but_the_attempt(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    # The step is spent by the statement that writes the session (its claim): a replay
    # refused there leaves no session, link or e-mail, and the challenge usable.
    account = await make_account(ctx)
    app = await enroll_app(ctx, client, account)
    code = app_code(app.secret, ctx.clock.now())
    first = await second_step(client, account.login)
    assert (await verify(client, first["challenge_id"], code=code)).status_code == 200
    confirmations = await _messages(ctx, "login_confirmation")
    again = await second_step(client, account.login)
    replayed = assert_problem(await verify(client, again["challenge_id"], code=code), 401,
                              "invalid_code")  # fmt: skip
    assert replayed["attempts_left"] == 4  # the attempt stays spent
    assert await _messages(ctx, "login_confirmation") == confirmations
    async with ctx.db.transaction() as session:
        count = select(func.count()).where(UserSession.account_id == account.id)
        assert (await session.execute(count)).scalar_one() == 1 + 1  # enrolment's + first
        challenge = await session.get(LoginChallenge, uuid.UUID(str(again["challenge_id"])))
        assert challenge is not None and challenge.consumed_at is None
    next_step(ctx)
    later = app_code(app.secret, ctx.clock.now())
    assert (await verify(client, again["challenge_id"], code=later)).status_code == 200


@pytest.mark.parametrize(("steps", "status"), [(-1, 200), (1, 200), (-2, 401), (2, 401)])
async def test_skew_of_one_step_is_accepted_and_two_refused_at_login(
    ctx: ServiceContext, client: httpx.AsyncClient, steps: int, status: int
) -> None:
    account = await make_account(ctx)
    app = await enroll_app(ctx, client, account)
    next_step(ctx, 3)  # far from the enrolment's spent step either way
    code = app_code(app.secret, ctx.clock.now() + timedelta(seconds=30 * steps))
    started = await second_step(client, account.login)
    assert (await verify(client, started["challenge_id"], code=code)).status_code == status


async def test_twenty_concurrent_submissions_of_one_code_give_one_session(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    app = await enroll_app(ctx, client, account)
    code = app_code(app.secret, ctx.clock.now())
    # Twenty challenges, so no challenge's single use hides the step's.
    challenges = [(await second_step(client, account.login))["challenge_id"] for _ in range(20)]
    answers = await asyncio.gather(*(verify(client, c, code=code) for c in challenges))
    assert sorted(a.status_code for a in answers) == [200] + [401] * 19
    one = await second_step(client, account.login)
    same = await asyncio.gather(
        *(verify(client, one["challenge_id"], code=code) for _ in range(20))
    )
    assert all(a.status_code != 200 for a in same)  # the step is spent already
    async with ctx.db.transaction() as session:
        count = select(func.count()).where(UserSession.account_id == account.id)
        assert (await session.execute(count)).scalar_one() == 1 + 1  # enrolment's + one login


async def test_twenty_concurrent_submissions_on_one_challenge_give_one_session(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    app = await enroll_app(ctx, client, account)
    started = await second_step(client, account.login)
    code = app_code(app.secret, ctx.clock.now())
    answers = await asyncio.gather(
        *(verify(client, started["challenge_id"], code=code) for _ in range(20))
    )
    assert [a.status_code for a in answers].count(200) == 1


async def test_the_secret_is_not_readable_in_the_database(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    app = await enroll_app(ctx, client, account)
    async with ctx.db.transaction() as session:
        stored = (await session.execute(select(TotpFactor.secret_sealed))).scalar_one()
    raw = base64.b32decode(app.secret)
    assert app.secret.encode() not in stored and raw not in stored
    assert app.secret.lower().encode() not in stored


async def test_the_secret_still_opens_after_a_key_rotation(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    app = await enroll_app(ctx, client, account)
    rotated = _with_keys(ctx, f"{'n' * 40},{TEST_SECRET_KEY}")  # a new key first
    async with make_client(rotated) as http:
        started = await second_step(http, account.login)
        code = app_code(app.secret, ctx.clock.now())
        assert (await verify(http, started["challenge_id"], code=code)).status_code == 200
    # ...and without the old key it does not: the first key alone did not seal it.
    only_new = _with_keys(ctx, "n" * 40)
    async with ctx.db.transaction() as session:
        factor = (await session.execute(select(TotpFactor))).scalar_one()
    with pytest.raises(sealing.SealError):
        sealing.unseal(only_new.keyring, factor.id, factor.secret_sealed)


def _with_keys(ctx: ServiceContext, keys: str) -> ServiceContext:
    configured = with_settings(ctx, secret_key=keys)
    return dataclasses.replace(configured, keyring=Keyring(configured.settings.secret_keys()))


async def test_enrolling_needs_a_recent_password(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    headers = await bearer_session(ctx, account)
    assert_problem(await client.post("/factors/totp", headers=headers), 403,
                   "reauthentication_required")  # fmt: skip
    wrong = await client.post(
        "/session/reauthenticate", json={"password": "not it"}, headers=headers
    )
    assert_problem(wrong, 401, "invalid_credentials")
    assert_problem(await client.post("/factors/totp", headers=headers), 403,
                   "reauthentication_required")  # fmt: skip
    ok = await client.post("/session/reauthenticate", json={"password": PASSWORD}, headers=headers)
    assert ok.status_code == 200
    assert (await client.post("/factors/totp", headers=headers)).status_code == 201
    ctx.clock.advance(ctx.settings.reauth_window)  # type: ignore[attr-defined]
    assert_problem(await client.post("/factors/totp", headers=headers), 403,
                   "reauthentication_required")  # fmt: skip


async def test_a_second_app_is_refused_while_one_is_active(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    await enroll_app(ctx, client, account)
    headers = await reauthenticated(ctx, client, account)
    assert_problem(await client.post("/factors/totp", headers=headers), 409,
                   "totp_already_enrolled")  # fmt: skip


async def test_bad_confirmations_change_nothing(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    headers = await reauthenticated(ctx, client, account)
    body = (await client.post("/factors/totp", headers=headers)).json()
    path = f"/factors/totp/{body['factor_id']}/confirm"
    for typed in ("12345", "abcdef", "999999999"):
        assert_problem(await client.post(path, json={"code": typed}, headers=headers), 401,
                       "invalid_code")  # fmt: skip
    other = f"/factors/totp/{uuid.uuid4()}/confirm"
    good = app_code(body["secret"], ctx.clock.now())
    assert_problem(await client.post(other, json={"code": good}, headers=headers), 404,
                   "enrollment_not_found")  # fmt: skip
    ctx.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]
    headers = await reauthenticated(ctx, client, account)
    late = app_code(body["secret"], ctx.clock.now())
    assert_problem(await client.post(path, json={"code": late}, headers=headers), 410,
                   "enrollment_expired")  # fmt: skip
    async with ctx.db.transaction() as session:
        factor = (await session.execute(select(TotpFactor))).scalar_one()
    assert factor.confirmed_at is None and factor.last_step == 0
    assert (await second_step(client, account.login))["factor"] == "email"


async def test_removing_the_app_returns_to_codes_and_tells_the_customer(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    await enroll_app(ctx, client, account)
    headers = await reauthenticated(ctx, client, account)
    assert (await client.delete("/factors/totp", headers=headers)).status_code == 204
    started = await second_step(client, account.login)
    assert (started["factor"], started["factors"]) == ("email", ["email"])
    changes = [n["change"] for n in await sent(ctx, "factor_changed", account.id)]
    assert changes[-1] == "The authenticator app was removed from two-step login."


async def test_codes_do_not_finish_a_login_once_the_app_is_set_up(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    await enroll_app(ctx, client, account)
    started = await second_step(client, account.login)
    resend = await client.post("/login/resend", json={"challenge_id": started["challenge_id"],
                                                      "channel": "email"})  # fmt: skip
    assert_problem(resend, 409, "factor_not_allowed")
    async with ctx.db.transaction() as session:
        challenge = await session.get(LoginChallenge, uuid.UUID(str(started["challenge_id"])))
        assert challenge is not None and challenge.message_id is None


async def test_with_the_fallback_kept_an_email_code_still_finishes_a_login(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    await enroll_app(ctx, client, account)
    headers = await reauthenticated(ctx, client, account)
    chosen = await client.put("/factors/preferred", json={"factor": "totp",
                                                          "codes_fallback": True},
                              headers=headers)  # fmt: skip
    assert chosen.status_code == 200, chosen.text
    started = await second_step(client, account.login)
    assert started["factor"] == "totp"
    assert started["factors"] == ["email", "totp", "recovery_code"]
    # Nothing was sent yet, so the first code goes at once (no cooldown to wait out)...
    resend = await client.post("/login/resend", json={"challenge_id": started["challenge_id"]})
    assert resend.status_code == 200, resend.text
    # ...and the next one keeps the usual cooldown.
    again = await client.post("/login/resend", json={"challenge_id": started["challenge_id"]})
    assert_problem(again, 429, "resend_too_soon")
    code = await read_otp(ctx, str(started["challenge_id"]))
    assert (await verify(client, started["challenge_id"], code=code)).status_code == 200
    assert (await sent(ctx, "login_confirmation", account.id))[-1]["factor"] == "a code by e-mail"


async def test_codes_cannot_be_preferred_beside_the_app_without_the_fallback(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    await enroll_app(ctx, client, account)
    headers = await reauthenticated(ctx, client, account)
    refused = await client.put("/factors/preferred", json={"factor": "email"}, headers=headers)
    assert_problem(refused, 409, "factor_not_allowed")
    assert (await second_step(client, account.login))["factor"] == "totp"
    kept = {"factor": "email", "codes_fallback": True}
    chosen = await client.put("/factors/preferred", json=kept, headers=headers)
    assert chosen.status_code == 200, chosen.text
    assert (chosen.json()["preferred"], chosen.json()["codes_fallback"]) == ("email", True)
    started = await second_step(client, account.login)
    assert started["factor"] == "email"
    assert started["factors"] == ["email", "totp", "recovery_code"]


async def test_choosing_a_factor_not_set_up_is_refused(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    headers = await reauthenticated(ctx, client, account)
    refused = await client.put("/factors/preferred", json={"factor": "totp"}, headers=headers)
    assert_problem(refused, 409, "factor_not_enrolled")
    sms = await client.put("/factors/preferred", json={"factor": "sms"}, headers=headers)
    assert_problem(sms, 409, "factor_not_enrolled")  # no phone
    unknown = await client.put("/factors/preferred", json={"factor": "pigeon"}, headers=headers)
    assert unknown.status_code == 422
    assert (await second_step(client, account.login))["factor"] == "email"


async def test_a_password_reset_by_email_still_needs_the_app_at_the_next_login(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    """Kratos issue #4317: a reset by e-mail must not become a sign-in without the app."""
    account = await make_account(ctx)
    await enroll_app(ctx, client, account)
    reset_id = (await client.post("/password/reset", json={"login": account.login})).json()[
        "reset_id"
    ]
    code = (await sent(ctx, "password_reset_code"))[-1]["code"]
    new_password = "a brand new passphrase"
    done = await client.post("/password/reset/confirm", json={
        "reset_id": reset_id, "code": code, "new_password": new_password})  # fmt: skip
    assert done.status_code == 204 and "set-cookie" not in done.headers
    started = await start_login(client, account.login, new_password)
    assert started.json()["factor"] == "totp"
    assert "email" not in started.json()["factors"]


async def test_no_secret_or_code_reaches_the_logs(
    ctx: ServiceContext, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    account = await make_account(ctx)
    app = await enroll_app(ctx, client, account)
    code = app_code(app.secret, ctx.clock.now())
    started = await second_step(client, account.login)
    await verify(client, started["challenge_id"], code="000000")
    await verify(client, started["challenge_id"], code=code)
    other = await second_step(client, account.login)
    await verify(client, other["challenge_id"], recovery_code=app.recovery_codes[0])
    logged = caplog.text + logged_text(caplog.records)
    secrets_seen = [app.secret, code, *app.recovery_codes,
                    *(c.replace("-", "") for c in app.recovery_codes)]  # fmt: skip
    assert logged  # the events were logged...
    assert not [s for s in secrets_seen if s in logged]  # ...without any secret


def _sign_ins(metrics: str, factor: str) -> float:
    found = re.search(rf'^authsvc_sign_ins_total{{factor="{factor}"}} (\S+)$', metrics, re.M)
    return float(found.group(1)) if found else 0.0


async def test_metrics_count_sign_ins_by_factor(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    app = await enroll_app(ctx, client, account)
    before = (await client.get("/metrics")).text
    started = await second_step(client, account.login)
    code = app_code(app.secret, ctx.clock.now())
    assert (await verify(client, started["challenge_id"], code=code)).status_code == 200
    other = await second_step(client, account.login)
    used = await verify(client, other["challenge_id"], recovery_code=app.recovery_codes[0])
    assert used.status_code == 200
    after = (await client.get("/metrics")).text
    assert _sign_ins(after, "totp") - _sign_ins(before, "totp") == 1
    assert _sign_ins(after, "recovery_code") - _sign_ins(before, "recovery_code") == 1
    assert _sign_ins(after, "email") == _sign_ins(before, "email")


async def test_wrong_passwords_at_reauthentication_meet_the_back_off(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    headers = await bearer_session(ctx, account)
    wrong = {"password": "not the password"}
    statuses = [
        (await client.post("/session/reauthenticate", json=wrong, headers=headers)).status_code
        for _ in range(ctx.settings.throttle_free_failures + 2)
    ]
    free = ctx.settings.throttle_free_failures + 1  # the free ones and the one that starts it
    assert statuses == [401] * free + [429]
    right = await client.post("/session/reauthenticate", json={"password": PASSWORD},
                              headers=headers)  # fmt: skip
    assert_problem(right, 429, "too_many_attempts")  # no window opens during the back-off
    assert_problem(await client.post("/factors/totp", headers=headers), 403,
                   "reauthentication_required")  # fmt: skip
