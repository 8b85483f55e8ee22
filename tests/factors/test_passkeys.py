"""Passkeys through the API on a real PostgreSQL, with a software authenticator written
in the tests (tests/factors/authenticator.py): registration behind the
re-authentication window, the passkey as the second step, sign-in with a passkey alone,
re-authentication; every refusal (a replay, another flow's challenge, an expired one,
another origin or relying party, another account's credential, a counter regression,
no user verification, bad input) with its stable code and nothing changed."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from authsvc.accounts.models import Account
from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from authsvc.factors import passkeys, rules
from authsvc.factors.models import PasskeyChallenge, PasskeyCredential
from authsvc.maintenance.purge import purge
from authsvc.protection.models import SecurityEvent
from authsvc.sessions.models import UserSession
from tests.cli import run_cli
from tests.conftest import make_client, make_settings, with_settings
from tests.factories import make_account
from tests.factors.authenticator import SoftAuthenticator, b64url, unb64url
from tests.factors.helpers import enroll_app, reauthenticated, second_step
from tests.protection.helpers import sent
from tests.support.helpers import bearer_session
from tests.test_http_basics import assert_problem


def authenticator(ctx: ServiceContext, **options: Any) -> SoftAuthenticator:
    """A platform authenticator on the service's own page."""
    origin = ctx.settings.own_origins[0]
    return SoftAuthenticator(origin=origin, rp_id=passkeys.rp_id(ctx.settings), **options)


async def register(
    ctx: ServiceContext,
    client: httpx.AsyncClient,
    account: Account,
    device: SoftAuthenticator,
    *,
    name: str = "Laptop",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    headers = headers or await reauthenticated(ctx, client, account)
    options = await client.post("/factors/passkeys/options", headers=headers)
    assert options.status_code == 200, options.text
    credential = device.create(options.json()["options"])
    added = await client.post(
        "/factors/passkeys", json={"name": name, "credential": credential}, headers=headers
    )
    assert added.status_code == 201, added.text
    body: dict[str, Any] = added.json()
    return body


async def passwordless_options(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.post("/login/passkey/options")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def sign_in(client: httpx.AsyncClient, flow_id: str, credential: Any) -> httpx.Response:
    return await client.post("/login/passkey", json={"flow_id": flow_id, "credential": credential})


async def _count(ctx: ServiceContext, model: Any, *where: Any) -> int:
    async with ctx.db.transaction() as session:
        query = select(func.count()).select_from(model).where(*where)
        return int((await session.execute(query)).scalar_one())


async def _passkey(ctx: ServiceContext, passkey_id: str) -> PasskeyCredential:
    async with ctx.db.transaction() as session:
        row = await session.get(PasskeyCredential, uuid.UUID(passkey_id))
        assert row is not None
        return row


async def _session_ids(ctx: ServiceContext, account: Account) -> list[uuid.UUID]:
    async with ctx.db.transaction() as session:
        query = select(UserSession.id).where(UserSession.account_id == account.id)
        return list((await session.execute(query)).scalars())


async def _sessions(ctx: ServiceContext, account: Account) -> int:
    return await _count(ctx, UserSession, UserSession.account_id == account.id)


def _advance(ctx: ServiceContext, delta: timedelta) -> None:
    assert isinstance(ctx.clock, MovableClock)
    ctx.clock.advance(delta)


# --- the relying party -------------------------------------------------------------------


def test_rp_id_is_the_public_urls_host_and_origins_add_the_allowed_ones() -> None:
    settings = make_settings(
        env="prod", public_url="https://auth.example.com",
        allowed_origins=["https://panel.example.com", "https://example.org"],
    )  # fmt: skip
    assert passkeys.rp_id(settings) == "auth.example.com"
    assert passkeys.expected_origins(settings) == [
        "https://auth.example.com", "https://panel.example.com", "https://example.org",
    ]  # fmt: skip
    # panel.example.com is not a subdomain of auth.example.com: the browser refuses it.
    assert passkeys.unusable_origins(settings) == [
        "https://panel.example.com", "https://example.org",
    ]  # fmt: skip


def test_startup_says_which_origins_cannot_use_passkeys(caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings(
        env="prod", public_url="https://example.com",
        allowed_origins=["https://panel.example.com", "https://evil.test"],
    )  # fmt: skip
    with caplog.at_level(logging.WARNING):
        passkeys.warn_unusable_origins(settings)
    assert "https://evil.test" in caplog.text and "cannot work" in caplog.text
    assert "panel.example.com is not" not in caplog.text


def test_counter_rule() -> None:
    assert not rules.counter_regressed(0, 0)  # never counts: accepted
    assert not rules.counter_regressed(5, 6)
    assert rules.counter_regressed(5, 5)
    assert rules.counter_regressed(5, 3)
    assert rules.counter_regressed(5, 0)


# --- registration --------------------------------------------------------------------------


async def test_registration_options_ask_for_a_discoverable_passkey_without_attestation(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    headers = await reauthenticated(ctx, client, account)
    options = (await client.post("/factors/passkeys/options", headers=headers)).json()["options"]
    assert options["rp"]["id"] == passkeys.rp_id(ctx.settings)
    assert options["attestation"] == "none"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert unb64url(options["user"]["id"]) == account.id.bytes
    assert len(unb64url(options["challenge"])) == 32


async def test_registration_needs_the_reauthentication_window(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    headers = await bearer_session(ctx, account)
    refused = await client.post("/factors/passkeys/options", headers=headers)
    assert_problem(refused, 403, "reauthentication_required")


async def test_first_passkey_issues_recovery_codes_is_listed_and_told(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    device = authenticator(ctx, backed_up=True)
    headers = await reauthenticated(ctx, client, account)
    added = await register(ctx, client, account, device, name="Phone", headers=headers)
    assert added["name"] == "Phone" and added["backed_up"] is True
    assert len(added["recovery_codes"]) == 10
    _advance(ctx, timedelta(seconds=1))  # listed (and told) in the order they were added
    second = await register(ctx, client, account, authenticator(ctx), headers=headers)
    assert "recovery_codes" not in second  # only with the first strong factor
    factors = (await client.get("/factors", headers=headers)).json()
    assert [p["name"] for p in factors["passkeys"]] == ["Phone", "Laptop"]
    assert factors["preferred"] == "passkey"
    assert factors["recovery_codes"]["remaining"] == 10
    changes = [m["change"] for m in await sent(ctx, "factor_changed", account.id)]
    assert changes == [
        'A passkey named "Phone" was added; it signs in to the account.',
        'A passkey named "Laptop" was added; it signs in to the account.',
    ]


@pytest.mark.parametrize("where", ["origin", "rp_id"])
async def test_registration_from_another_origin_or_rp_is_refused(
    ctx: ServiceContext, client: httpx.AsyncClient, where: str
) -> None:
    account = await make_account(ctx)
    headers = await reauthenticated(ctx, client, account)
    options = (await client.post("/factors/passkeys/options", headers=headers)).json()["options"]
    other = {"origin": "https://evil.test"} if where == "origin" else {"rp_id": "evil.test"}
    credential = authenticator(ctx).create(options, **other)
    refused = await client.post(
        "/factors/passkeys", json={"name": "x", "credential": credential}, headers=headers
    )
    assert_problem(refused, 400, "invalid_passkey")
    assert await _count(ctx, PasskeyCredential) == 0
    assert await _count(ctx, PasskeyChallenge) == 1  # still there: nothing was used


async def test_registration_challenge_of_another_session_is_refused(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    first = await reauthenticated(ctx, client, account)
    second = await reauthenticated(ctx, client, account)
    options = (await client.post("/factors/passkeys/options", headers=first)).json()["options"]
    credential = authenticator(ctx).create(options)
    refused = await client.post(
        "/factors/passkeys", json={"name": "x", "credential": credential}, headers=second
    )
    assert_problem(refused, 400, "invalid_passkey")
    assert await _count(ctx, PasskeyCredential) == 0


async def test_a_registration_after_five_minutes_is_refused_as_expired(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    headers = await reauthenticated(ctx, client, account)
    options = (await client.post("/factors/passkeys/options", headers=headers)).json()["options"]
    credential = authenticator(ctx).create(options)
    _advance(ctx, rules.PASSKEY_CHALLENGE_TTL)
    async with ctx.db.transaction() as session:  # the session's window, kept open
        row = await session.get(UserSession, (await _session_ids(ctx, account))[0])
        assert row is not None
        row.reauthenticated_at = ctx.clock.now()
    refused = await client.post(
        "/factors/passkeys", json={"name": "x", "credential": credential}, headers=headers
    )
    assert_problem(refused, 410, "passkey_challenge_expired")
    assert await _count(ctx, PasskeyCredential) == 0


async def test_at_most_ten_passkeys(ctx: ServiceContext, client: httpx.AsyncClient) -> None:
    account = await make_account(ctx)
    headers = await reauthenticated(ctx, client, account)
    for n in range(rules.MAX_PASSKEYS):
        await register(ctx, client, account, authenticator(ctx), name=f"k{n}", headers=headers)
    refused = await client.post("/factors/passkeys/options", headers=headers)
    assert_problem(refused, 409, "passkey_limit_reached")


async def test_concurrent_registrations_stop_at_ten(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    headers = await reauthenticated(ctx, client, account)
    for n in range(rules.MAX_PASSKEYS - 2):
        await register(ctx, client, account, authenticator(ctx), name=f"k{n}", headers=headers)
    bodies = []
    for n in range(5):
        options = await client.post("/factors/passkeys/options", headers=headers)
        credential = authenticator(ctx).create(options.json()["options"])
        bodies.append({"name": f"racer{n}", "credential": credential})
    answers = await asyncio.gather(
        *(client.post("/factors/passkeys", json=body, headers=headers) for body in bodies)
    )
    assert sorted(a.status_code for a in answers) == [201, 201, 409, 409, 409]
    assert await _count(ctx, PasskeyCredential) == rules.MAX_PASSKEYS


async def test_rename_and_delete_then_the_passkey_no_longer_signs_in(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    device = authenticator(ctx)
    headers = await reauthenticated(ctx, client, account)
    added = await register(ctx, client, account, device, headers=headers)
    path = f"/factors/passkeys/{added['id']}"
    renamed = await client.patch(path, json={"name": "Work laptop"}, headers=headers)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Work laptop"
    assert (await client.delete(path, headers=headers)).status_code == 204
    assert_problem(await client.delete(path, headers=headers), 404, "passkey_not_found")
    removed = (await sent(ctx, "factor_changed", account.id))[-1]["change"]
    assert removed == 'The passkey named "Work laptop" was removed; it no longer signs in.'
    factors = (await client.get("/factors", headers=headers)).json()
    assert factors["passkeys"] == [] and factors["recovery_codes"] is None
    assert factors["preferred"] == "email"
    flow = await passwordless_options(client)
    refused = await sign_in(client, flow["flow_id"], device.get(flow["options"]))
    assert_problem(refused, 401, "invalid_passkey")


async def test_another_accounts_passkey_cannot_be_renamed_or_deleted(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    owner = await make_account(ctx)
    added = await register(ctx, client, owner, authenticator(ctx))
    other = await reauthenticated(ctx, client, await make_account(ctx))
    path = f"/factors/passkeys/{added['id']}"
    assert_problem(await client.patch(path, json={"name": "x"}, headers=other), 404,
                   "passkey_not_found")  # fmt: skip
    assert_problem(await client.delete(path, headers=other), 404, "passkey_not_found")
    assert (await _passkey(ctx, added["id"])).name == "Laptop"


# --- sign in with a passkey alone ---------------------------------------------------------


def _sign_ins(metrics: str) -> float:
    found = re.search(r'^authsvc_sign_ins_total{factor="passkey"} (\S+)$', metrics, re.M)
    return float(found.group(1)) if found else 0.0


async def test_a_discoverable_passkey_signs_in_alone_and_the_confirmation_names_it(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    device = authenticator(ctx)
    added = await register(ctx, client, account, device, name="Pixel")
    before = _sign_ins((await client.get("/metrics")).text)
    flow = await passwordless_options(client)
    assert flow["options"]["userVerification"] == "required"
    assert flow["options"].get("allowCredentials", []) == []  # discoverable: none named
    signed_in = await sign_in(client, flow["flow_id"], device.get(flow["options"]))
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["account"]["login"] == account.login
    assert "authsvc_session" in signed_in.headers.get("set-cookie", "")
    confirmation = (await sent(ctx, "login_confirmation", account.id))[-1]
    assert confirmation["factor"] == 'the passkey "Pixel"'
    stored = await _passkey(ctx, added["id"])
    assert stored.sign_count == 1 and stored.last_used_at == ctx.clock.now()
    assert _sign_ins((await client.get("/metrics")).text) - before == 1


async def test_a_replayed_assertion_is_refused(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    device = authenticator(ctx)
    await register(ctx, client, account, device)
    flow = await passwordless_options(client)
    assertion = device.get(flow["options"])
    assert (await sign_in(client, flow["flow_id"], assertion)).status_code == 200
    sessions = await _sessions(ctx, account)
    assert_problem(await sign_in(client, flow["flow_id"], assertion), 401, "invalid_passkey")
    assert await _sessions(ctx, account) == sessions


async def test_ten_concurrent_submissions_of_one_assertion_give_one_session(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    device = authenticator(ctx)
    await register(ctx, client, account, device)
    flow = await passwordless_options(client)
    assertion = device.get(flow["options"])
    answers = await asyncio.gather(
        *(sign_in(client, flow["flow_id"], assertion) for _ in range(10))
    )
    assert sorted(a.status_code for a in answers) == [200] + [401] * 9
    assert await _sessions(ctx, account) == 1 + 1  # the registering one and one sign-in


async def test_a_challenge_of_another_flow_is_refused(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    device = authenticator(ctx)
    headers = await reauthenticated(ctx, client, account)
    await register(ctx, client, account, device, headers=headers)
    reauth = (await client.post("/session/reauthenticate/options", headers=headers)).json()
    flow = await passwordless_options(client)
    # The reauthentication challenge answered, sent to the passwordless flow.
    refused = await sign_in(client, flow["flow_id"], device.get(reauth["options"]))
    assert_problem(refused, 401, "invalid_passkey")
    # Another passwordless flow's challenge, sent under this flow's id.
    other = await passwordless_options(client)
    refused = await sign_in(client, flow["flow_id"], device.get(other["options"]))
    assert_problem(refused, 401, "invalid_passkey")
    assert await _sessions(ctx, account) == 1  # the re-authenticated one only


async def test_an_expired_challenge_is_refused(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    device = authenticator(ctx)
    added = await register(ctx, client, account, device)
    flow = await passwordless_options(client)
    _advance(ctx, rules.PASSKEY_CHALLENGE_TTL)
    refused = await sign_in(client, flow["flow_id"], device.get(flow["options"]))
    assert_problem(refused, 410, "passkey_challenge_expired")
    assert (await _passkey(ctx, added["id"])).sign_count == 0


@pytest.mark.parametrize("where", ["origin", "rp_id"])
async def test_an_assertion_for_another_origin_or_rp_is_refused(
    ctx: ServiceContext, client: httpx.AsyncClient, where: str
) -> None:
    account = await make_account(ctx)
    device = authenticator(ctx)
    added = await register(ctx, client, account, device)
    flow = await passwordless_options(client)
    origin, rp_id = ("https://evil.test", None) if where == "origin" else (None, "evil.test")
    wrong = device.get(flow["options"], origin=origin, rp_id=rp_id)
    refused = await sign_in(client, flow["flow_id"], wrong)
    assert_problem(refused, 401, "invalid_passkey")
    assert (await _passkey(ctx, added["id"])).sign_count == 0
    # The challenge was not used by the refusal: the real page still signs in with it.
    assert (await sign_in(client, flow["flow_id"], device.get(flow["options"]))).status_code == 200


async def test_without_user_verification_a_passkey_does_not_sign_in_alone(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    device = authenticator(ctx)
    await register(ctx, client, account, device)
    flow = await passwordless_options(client)
    refused = await sign_in(client, flow["flow_id"], device.get(flow["options"], uv=False))
    assert_problem(refused, 401, "invalid_passkey")
    assert await _sessions(ctx, account) == 1


async def test_a_counter_regression_is_refused_recorded_and_told(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    device = authenticator(ctx)
    added = await register(ctx, client, account, device, name="YubiKey")
    flow = await passwordless_options(client)
    assert (await sign_in(client, flow["flow_id"], device.get(flow["options"], sign_count=7))
            ).status_code == 200  # fmt: skip
    sessions = await _sessions(ctx, account)
    flow = await passwordless_options(client)
    copied = device.get(flow["options"], sign_count=7)  # a copy that counted from the same
    refused = await sign_in(client, flow["flow_id"], copied)
    assert_problem(refused, 401, "passkey_counter_regressed")
    assert await _sessions(ctx, account) == sessions
    assert (await _passkey(ctx, added["id"])).sign_count == 7
    events = await _count(ctx, SecurityEvent, SecurityEvent.kind == "passkey_counter_regressed")
    assert events == 1  # kept with the refusal
    notice = await sent(ctx, "passkey_counter_regressed", account.id)
    assert [n["name"] for n in notice] == ["YubiKey"]


async def test_an_authenticator_that_always_reports_zero_is_accepted(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    device = authenticator(ctx, counts=False, backed_up=True)
    await register(ctx, client, account, device)
    for _ in range(2):
        flow = await passwordless_options(client)
        assert (await sign_in(client, flow["flow_id"], device.get(flow["options"]))
                ).status_code == 200  # fmt: skip


async def test_a_disabled_account_or_one_that_must_reset_is_refused(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    device = authenticator(ctx)
    await register(ctx, client, account, device)
    async with ctx.db.transaction() as session:
        row = await session.get(Account, account.id)
        assert row is not None
        row.password_reset_required = True
    flow = await passwordless_options(client)
    refused = await sign_in(client, flow["flow_id"], device.get(flow["options"]))
    assert_problem(refused, 403, "password_reset_required")
    async with ctx.db.transaction() as session:
        row = await session.get(Account, account.id)
        assert row is not None
        row.password_reset_required, row.disabled = False, True
    flow = await passwordless_options(client)
    refused = await sign_in(client, flow["flow_id"], device.get(flow["options"]))
    assert_problem(refused, 401, "invalid_passkey")
    assert await _sessions(ctx, account) == 1


async def test_passkey_sign_in_can_be_turned_off(ctx: ServiceContext) -> None:
    async with make_client(with_settings(ctx, passkey_sign_in=False)) as client:
        assert_problem(await client.post("/login/passkey/options"), 404,
                       "passkey_sign_in_disabled")  # fmt: skip


async def test_passwordless_requests_are_throttled_per_address(ctx: ServiceContext) -> None:
    limited = with_settings(ctx, passkey_ip_limit=2)
    async with make_client(limited) as client:
        flow = await passwordless_options(client)
        refused = await sign_in(client, flow["flow_id"], {"id": "x"})  # counts, then refused
        assert_problem(refused, 401, "invalid_passkey")
        over = await client.post("/login/passkey/options")
        assert_problem(over, 429, "too_many_attempts")
        assert int(over.headers["retry-after"]) >= 1
    async with make_client(limited, ip="198.51.100.9") as elsewhere:
        assert (await elsewhere.post("/login/passkey/options")).status_code == 200


def _malformed(assertion: dict[str, Any]) -> list[Any]:
    response = assertion["response"]
    huge = b64url(b'{"type":"webauthn.get","challenge":"' + b"A" * 40_000 + b'"}')
    return [
        {},
        "not an object",
        {**assertion, "rawId": 42},
        {**assertion, "response": "x"},
        {**assertion, "response": {**response, "clientDataJSON": "%%%"}},
        {**assertion, "response": {**response, "clientDataJSON": response["clientDataJSON"][:20]}},
        {**assertion, "response": {**response, "authenticatorData": "AAAA"}},
        {**assertion, "response": {**response, "signature": ""}},
        {**assertion, "response": {**response, "userHandle": 7}},
        {**assertion, "response": {**response, "clientDataJSON": huge}},
        {**assertion, "type": "password"},
    ]


async def test_malformed_credentials_are_refused_never_a_500(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    device = authenticator(ctx)
    await register(ctx, client, account, device)
    flow = await passwordless_options(client)
    assertion = device.get(flow["options"])
    for bad in _malformed(assertion):
        refused = await sign_in(client, flow["flow_id"], bad)
        assert refused.status_code in (400, 401, 413, 422), (bad, refused.text)
        assert refused.json()["code"] in (
            "invalid_passkey", "invalid_request", "payload_too_large"
        ), refused.text  # fmt: skip
    truncated = await client.post(
        "/login/passkey", content=b'{"flow_id": "' + flow["flow_id"].encode() + b'", "cred',
        headers={"content-type": "application/json"},
    )  # fmt: skip
    assert truncated.status_code == 400 and truncated.json()["code"] == "invalid_json"
    assert await _sessions(ctx, account) == 1
    # Nothing was used up: the real assertion still signs in.
    assert (await sign_in(client, flow["flow_id"], assertion)).status_code == 200


async def test_malformed_registration_is_refused_never_a_500(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    headers = await reauthenticated(ctx, client, account)
    options = (await client.post("/factors/passkeys/options", headers=headers)).json()["options"]
    good = authenticator(ctx).create(options)
    response = good["response"]
    for bad in [{}, {**good, "response": {**response, "attestationObject": "AAAA"}},
                {**good, "response": {**response, "clientDataJSON": "!!"}}, [1, 2]]:  # fmt: skip
        refused = await client.post(
            "/factors/passkeys", json={"name": "x", "credential": bad}, headers=headers
        )
        assert refused.status_code in (400, 422), refused.text
    assert await _count(ctx, PasskeyCredential) == 0


# --- the second step -------------------------------------------------------------------------


async def test_a_passkey_as_the_second_step(ctx: ServiceContext, client: httpx.AsyncClient) -> None:
    account = await make_account(ctx)
    device = authenticator(ctx)
    added = await register(ctx, client, account, device)
    started = await second_step(client, account.login)
    assert started["factor"] == "passkey"
    assert started["factors"] == ["passkey", "recovery_code"]
    options: Any = started["passkey_options"]
    allowed = [unb64url(c["id"]) for c in options["allowCredentials"]]
    assert allowed == [device.credentials[0].credential_id]
    assert options["userVerification"] == "preferred"
    done = await client.post(
        "/login/verify",
        json={"challenge_id": started["challenge_id"],
              "passkey": device.get(options, uv=False)},  # presence is enough here
    )  # fmt: skip
    assert done.status_code == 200, done.text
    assert (await _passkey(ctx, added["id"])).last_used_at is not None
    confirmation = (await sent(ctx, "login_confirmation", account.id))[-1]
    assert confirmation["factor"] == "a passkey"


async def test_with_the_app_preferred_a_passkey_still_finishes_the_login(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    device = authenticator(ctx)
    await register(ctx, client, account, device)
    await enroll_app(ctx, client, account)
    headers = await reauthenticated(ctx, client, account)
    chosen = await client.put("/factors/preferred", json={"factor": "totp"}, headers=headers)
    assert chosen.status_code == 200 and chosen.json()["preferred"] == "totp"
    started = await second_step(client, account.login)
    assert (started["factor"], started["factors"]) == ("totp", ["totp", "passkey", "recovery_code"])
    done = await client.post("/login/verify", json={
        "challenge_id": started["challenge_id"],
        "passkey": device.get(started["passkey_options"]),  # type: ignore[arg-type]
    })  # fmt: skip
    assert done.status_code == 200, done.text
    chosen = await client.put("/factors/preferred", json={"factor": "passkey"}, headers=headers)
    assert chosen.json()["preferred"] == "passkey"
    assert (await second_step(client, account.login))["factor"] == "passkey"


async def test_second_step_refuses_another_accounts_passkey_as_a_wrong_attempt(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    await register(ctx, client, account, authenticator(ctx))
    intruder = await make_account(ctx)
    theirs = authenticator(ctx)
    await register(ctx, client, intruder, theirs)
    started = await second_step(client, account.login)
    wrong = theirs.get(started["passkey_options"])  # type: ignore[arg-type]
    refused = await client.post(
        "/login/verify", json={"challenge_id": started["challenge_id"], "passkey": wrong}
    )
    body = assert_problem(refused, 401, "invalid_code")
    assert body["attempts_left"] == ctx.settings.login_otp_max_attempts - 1
    assert await _sessions(ctx, account) == 1


async def test_second_step_attempts_are_limited_as_for_codes(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    device = authenticator(ctx)
    await register(ctx, client, account, device)
    started = await second_step(client, account.login)
    options: Any = started["passkey_options"]
    for _ in range(ctx.settings.login_otp_max_attempts):
        await client.post("/login/verify", json={
            "challenge_id": started["challenge_id"], "passkey": device.get(options, rp_id="x"),
        })  # fmt: skip
    good = device.get(options)
    refused = await client.post(
        "/login/verify", json={"challenge_id": started["challenge_id"], "passkey": good}
    )
    assert_problem(refused, 410, "challenge_exhausted")


async def test_a_login_challenges_passkey_options_do_not_work_for_another_challenge(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    device = authenticator(ctx)
    await register(ctx, client, account, device)
    first = await second_step(client, account.login)
    second = await second_step(client, account.login)
    answer = device.get(first["passkey_options"])  # type: ignore[arg-type]
    refused = await client.post(
        "/login/verify", json={"challenge_id": second["challenge_id"], "passkey": answer}
    )
    assert_problem(refused, 401, "invalid_code")


# --- re-authentication ------------------------------------------------------------------------


async def test_a_passkey_opens_the_reauthentication_window(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    device = authenticator(ctx)
    await register(ctx, client, account, device)
    headers = await bearer_session(ctx, account)
    assert_problem(await client.post("/factors/passkeys/options", headers=headers), 403,
                   "reauthentication_required")  # fmt: skip
    options = (await client.post("/session/reauthenticate/options", headers=headers)).json()
    no_uv = device.get(options["options"], uv=False)
    refused = await client.post("/session/reauthenticate", json={"passkey": no_uv},
                                headers=headers)  # fmt: skip
    assert_problem(refused, 401, "invalid_passkey")
    done = await client.post(
        "/session/reauthenticate", json={"passkey": device.get(options["options"])},
        headers=headers,
    )  # fmt: skip
    assert done.status_code == 200, done.text
    assert (await client.post("/factors/passkeys/options", headers=headers)).status_code == 200


async def test_reauthentication_takes_exactly_one_of_password_and_passkey(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    headers = await bearer_session(ctx, await make_account(ctx))
    for body in [{}, {"password": "x", "passkey": {}}]:
        refused = await client.post("/session/reauthenticate", json=body, headers=headers)
        assert refused.status_code == 422


async def test_the_operator_reset_removes_the_passkeys(
    ctx: ServiceContext, client: httpx.AsyncClient, cli_env: dict[str, str]
) -> None:
    account = await make_account(ctx)
    device = authenticator(ctx)
    await register(ctx, client, account, device)
    done = run_cli("accounts", "reset-factors", account.login, "--reason", "lost phone",
                   env=cli_env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert await _count(ctx, PasskeyCredential) == 0
    started = await second_step(client, account.login)
    assert (started["factor"], started["factors"]) == ("email", ["email"])


# --- purge ---------------------------------------------------------------------------------------


async def test_purge_deletes_expired_passkey_challenges(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    await passwordless_options(client)
    _advance(ctx, rules.PASSKEY_CHALLENGE_TTL + ctx.settings.retention_expired + timedelta(1))
    fresh = await passwordless_options(client)
    report = await purge(ctx.db, now=ctx.clock.now(), settings=ctx.settings)
    assert report["passkey_challenges"] == 1
    assert (
        await _count(ctx, PasskeyChallenge, PasskeyChallenge.id == uuid.UUID(fresh["flow_id"])) == 1
    )
