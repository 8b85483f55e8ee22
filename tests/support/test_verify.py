from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from tests.factories import make_account
from tests.support.helpers import (
    audit_rows,
    bearer_session,
    new_code,
    support_key,
    verify,
)
from tests.util import auth_events, without_request_id, wrong

NO_ACTIVE_CODE = {"valid": False, "reason": "no_active_code"}


async def test_a_code_is_reusable_within_the_hour(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    account = await make_account(ctx, login="Kim.Nowak")
    code = await new_code(client, await bearer_session(ctx, account))
    key = await support_key(ctx)
    start = clock.now()
    answers = []
    for offset in (timedelta(0), timedelta(minutes=30), timedelta(minutes=59, seconds=59)):
        clock.advance(start + offset - clock.now())
        answers.append(await verify(client, key, "kim.nowak", code))
    for response in answers:
        assert response.status_code == 200
        body = response.json()
        assert body["valid"] is True
        assert body["account"] == {"id": str(account.id), "login": "Kim.Nowak"}
        assert set(body) == {"valid", "account", "expires_at"}
        assert response.headers["cache-control"] == "no-store"


async def test_the_customer_is_a_login_in_any_case_or_the_account_id(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    code = await new_code(client, await bearer_session(ctx, account))
    key = await support_key(ctx)
    for customer in (account.login, account.login.upper(), str(account.id)):
        assert (await verify(client, key, customer, code)).json()["valid"] is True


async def test_an_account_id_wins_over_a_login_that_looks_like_one(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    """Logins may look like UUIDs; a customer given as an id means that account."""
    account = await make_account(ctx)
    await make_account(ctx, login=str(account.id))  # no code: it would answer no_active_code
    code = await new_code(client, await bearer_session(ctx, account))
    key = await support_key(ctx)
    answer = (await verify(client, key, str(account.id).upper(), code)).json()
    assert (answer["valid"], answer["account"]["id"]) == (True, str(account.id))


async def test_the_code_is_expired_after_the_hour(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    account = await make_account(ctx)
    code = await new_code(client, await bearer_session(ctx, account))
    key = await support_key(ctx)
    clock.advance(timedelta(minutes=59, seconds=59))
    assert (await verify(client, key, account.login, code)).json()["valid"] is True
    clock.advance(timedelta(seconds=1))
    assert (await verify(client, key, account.login, code)).json() == {
        "valid": False,
        "reason": "expired",
    }


async def test_spaces_and_hyphens_in_what_support_typed_are_ignored(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    code = await new_code(client, await bearer_session(ctx, account))
    key = await support_key(ctx)
    spaced = f"{code[:3]} {code[3:]}"
    hyphened = f"{code[:3]}-{code[3:]}"
    assert (await verify(client, key, account.login, spaced)).json()["valid"] is True
    assert (await verify(client, key, account.login, hyphened)).json()["valid"] is True


async def test_a_malformed_code_is_a_counted_mismatch(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    code = await new_code(client, await bearer_session(ctx, account))
    key = await support_key(ctx)
    for typed in ("12345", "1234567", "abcdef", code + "0"):
        assert (await verify(client, key, account.login, typed)).json() == {
            "valid": False,
            "reason": "mismatch",
        }
    assert (await verify(client, key, account.login, wrong(code))).json()["reason"] == "mismatch"
    # That was the fifth: the code is gone.
    assert (await verify(client, key, account.login, code)).json()["reason"] == "locked"


async def test_five_mismatches_lock_the_code_and_the_right_code_is_then_refused(
    ctx: ServiceContext, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="authsvc.events")
    account = await make_account(ctx)
    me = await bearer_session(ctx, account)
    code = await new_code(client, me)
    key = await support_key(ctx)
    reasons = [
        (await verify(client, key, account.login, wrong(code))).json()["reason"] for _ in range(5)
    ]
    assert reasons == ["mismatch"] * 5
    [locked] = auth_events(caplog.records, "auth_code_locked")
    assert locked.ip == "203.0.113.7"  # type: ignore[attr-defined]  # the support tool's
    assert (await verify(client, key, account.login, code)).json() == {
        "valid": False,
        "reason": "locked",
    }
    assert (await client.get("/auth-codes/current", headers=me)).json() == {"active": False}
    # A new code works again.
    fresh = await new_code(client, me)
    assert (await verify(client, key, account.login, fresh)).json()["valid"] is True


async def test_a_right_code_between_mismatches_does_not_reset_or_add_to_the_count(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    code = await new_code(client, await bearer_session(ctx, account))
    key = await support_key(ctx)
    for _ in range(4):
        assert (await verify(client, key, account.login, wrong(code))).json()["valid"] is False
        assert (await verify(client, key, account.login, code)).json()["valid"] is True
    last = await verify(client, key, account.login, wrong(code))
    assert last.json()["reason"] == "mismatch"
    assert (await verify(client, key, account.login, code)).json()["reason"] == "locked"


async def test_revoking_the_code_works(ctx: ServiceContext, client: httpx.AsyncClient) -> None:
    account = await make_account(ctx)
    me = await bearer_session(ctx, account)
    code = await new_code(client, me)
    key = await support_key(ctx)
    assert (await client.delete("/auth-codes/current", headers=me)).status_code == 204
    assert (await verify(client, key, account.login, code)).json() == NO_ACTIVE_CODE
    assert (await client.delete("/auth-codes/current", headers=me)).status_code == 204


async def test_an_unknown_customer_looks_exactly_like_a_customer_without_a_code(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    without_code = await make_account(ctx, login="no-code")
    key = await support_key(ctx)
    unknown = await verify(client, key, "nobody-at-all", "123456")
    unknown_id = await verify(client, key, "8d3b4f0e-8f51-4c56-9d6a-0f8bbbd2f1aa", "123456")
    known = await verify(client, key, without_code.login, "123456")
    known_id = await verify(client, key, str(without_code.id), "123456")
    for response in (unknown, unknown_id, known, known_id):
        assert response.status_code == 200
        assert response.json() == NO_ACTIVE_CODE
    assert unknown.content == known.content == unknown_id.content == known_id.content
    assert without_request_id(unknown.headers) == without_request_id(known.headers)


async def test_a_disabled_account_has_no_active_code(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    code = await new_code(client, await bearer_session(ctx, account))
    key = await support_key(ctx)
    async with ctx.db.transaction() as session:
        from authsvc.accounts import service as accounts

        await accounts.set_disabled(session, account.login, disabled=True, now=ctx.clock.now())
    assert (await verify(client, key, account.login, code)).json() == NO_ACTIVE_CODE


async def test_a_login_otp_mac_never_verifies_here(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    """Same digits, signed for the login purpose (as login challenges store them): refused."""
    from authsvc.auth_codes.models import AuthCode

    account = await make_account(ctx)
    key = await support_key(ctx)
    digits = "314159"
    now = ctx.clock.now()
    async with ctx.db.transaction() as session:
        for subject in (str(account.id),):
            session.add(
                AuthCode(
                    account_id=account.id,
                    code_mac=ctx.keyring.sign("login-otp", subject, digits),
                    created_at=now,
                    expires_at=now + timedelta(hours=1),
                    mismatches=0,
                    verifications=0,
                )
            )
    assert (await verify(client, key, account.login, digits)).json()["reason"] == "mismatch"


async def test_a_real_login_otp_is_refused_here(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    from tests.login.flow import read_otp, start_login

    account = await make_account(ctx, login="otp-user")
    me = await bearer_session(ctx, account)
    code = await new_code(client, me)
    started = await start_login(client, account.login)
    assert started.status_code == 200, started.text
    otp = await read_otp(ctx, started.json()["challenge_id"])
    key = await support_key(ctx)
    answer = (await verify(client, key, account.login, otp)).json()
    assert answer == {"valid": False, "reason": "mismatch"} or otp == code


async def test_every_verification_is_in_the_audit_trail(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    account = await make_account(ctx)
    code = await new_code(client, await bearer_session(ctx, account))
    key = await support_key(ctx, name="chat-tool")
    await verify(client, key, account.login, code, purpose="ticket 1")
    await verify(client, key, account.login, wrong(code), purpose=None)
    await verify(client, key, "nobody-at-all", code, purpose="ticket 3")
    rows = await audit_rows(ctx)
    assert [(r.result, r.purpose, r.account_id) for r in rows] == [
        ("valid", "ticket 1", account.id),
        ("mismatch", None, account.id),
        ("no_active_code", "ticket 3", None),
    ]
    assert {r.client_ip for r in rows} == {"203.0.113.7"}
    assert len({r.support_key_id for r in rows}) == 1
    assert all(r.verified_at is not None for r in rows)


async def test_a_malformed_body_is_422_and_audited(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    """An admitted call whose body is refused still leaves its audit row, naming no
    customer (none was read) and no purpose, and counts on the key's rate."""
    key = await support_key(ctx)
    headers = {"authorization": f"Bearer {key}"}
    bodies = (
        {"code": "123456"},
        {"customer": "kim"},
        {"customer": "kim", "code": "123456", "purpose": "x" * 201},
        {"customer": "", "code": "123456"},
    )
    for body in bodies:
        response = await client.post("/auth-codes/verify", json=body, headers=headers)
        assert response.status_code == 422
        assert response.json()["code"] == "invalid_request"
    for content, status in ((b'{"customer": ', 400), (b"customer=kim", 415)):
        kind = "application/json" if status == 400 else "application/x-www-form-urlencoded"
        response = await client.post(
            "/auth-codes/verify", content=content, headers={**headers, "content-type": kind}
        )
        assert response.status_code == status, response.text
    rows = await audit_rows(ctx)
    assert [(r.result, r.account_id, r.purpose) for r in rows] == [
        ("invalid_request", None, None)
    ] * (len(bodies) + 2)
    assert {r.client_ip for r in rows} == {"203.0.113.7"}


async def test_a_malformed_body_from_a_key_over_its_rate_is_429_and_audited(
    ctx: ServiceContext,
) -> None:
    from tests.conftest import make_client, with_settings

    key = await support_key(ctx)
    headers = {"authorization": f"Bearer {key}"}
    async with make_client(with_settings(ctx, support_key_rate_limit=2)) as client:
        statuses = [
            (await client.post("/auth-codes/verify", json={}, headers=headers)).status_code
            for _ in range(3)
        ]
    assert statuses == [422, 422, 429]
    results = [r.result for r in await audit_rows(ctx)]
    assert results == ["invalid_request", "invalid_request", "rate_limited"]


async def test_verifications_are_counted_by_key_name_and_result(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    """The metric the guessing alert reads (deploy/prometheus/alerts.yml)."""
    from prometheus_client import REGISTRY

    def count(key: str, result: str) -> float:
        labels = {"key": key, "result": result}
        return REGISTRY.get_sample_value("authsvc_support_verifications_total", labels) or 0.0

    account = await make_account(ctx)
    code = await new_code(client, await bearer_session(ctx, account))
    key = await support_key(ctx, name="metered-tool")
    before = {r: count("metered-tool", r) for r in ("valid", "mismatch", "invalid_request")}
    await verify(client, key, account.login, code)
    await verify(client, key, account.login, wrong(code))
    await verify(client, key, account.login, wrong(code))
    await client.post("/auth-codes/verify", json={}, headers={"authorization": f"Bearer {key}"})
    after = {r: count("metered-tool", r) for r in before}
    assert {r: after[r] - before[r] for r in before} == {
        "valid": 1, "mismatch": 2, "invalid_request": 1,
    }  # fmt: skip
