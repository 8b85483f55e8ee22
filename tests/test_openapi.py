"""openapi.yaml: generated from the app, and true of what the app answers.

tests/test_schemathesis.py fuzzes it; the answers a fuzzer cannot reach without reading
codes from the outbox (a sign-in, a new authorization code, a valid support check, a
logout) are walked through here and held to the same checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import schemathesis
import yaml
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from authsvc.context import ServiceContext
from authsvc.openapi import openapi_document
from tests.conftest import PANEL_ORIGIN, make_client, with_codes
from tests.factories import PASSWORD, make_account
from tests.login.flow import start_login
from tests.support.helpers import bearer_session, support_key
from tests.util import wrong

COMMITTED = Path(__file__).resolve().parent.parent / "openapi.yaml"
NEW_PASSWORD = "a brand new passphrase 42"
CONTRACT = schemathesis.openapi.from_path(COMMITTED)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_committed_openapi_yaml_matches_the_app() -> None:
    committed = yaml.safe_load(COMMITTED.read_text())
    assert committed == openapi_document(), (
        "openapi.yaml is out of date: run `python3 dev.py authsvc openapi > openapi.yaml`"
    )


def test_every_operation_has_a_readable_id_and_says_who_may_call_it() -> None:
    document = openapi_document()
    schemes = set(document["components"]["securitySchemes"])
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["operationId"].isalnum(), (method, path)
            assert "security" in operation, (method, path)
            used = {name for requirement in operation["security"] for name in requirement}
            assert used <= schemes
    assert not any("__" in name for name in document["components"]["schemas"])
    assert "HTTPValidationError" not in document["components"]["schemas"]


def conforms(operation_id: str, response: httpx.Response, **parts: Any) -> dict[str, Any]:
    """The response is what openapi.yaml says this operation answers; its JSON body."""
    case = CONTRACT.find_operation_by_id(operation_id).Case(**parts)
    case.validate_response(response, checks=CHECKS)
    return response.json() if response.content else {}


async def test_a_whole_session_answers_as_documented(ctx: ServiceContext) -> None:
    ctx = with_codes(ctx, "111111", "222222", "333333")
    account = await make_account(ctx)
    key = await support_key(ctx)
    unsafe = {"origin": PANEL_ORIGIN}  # a cookie-authenticated POST or DELETE needs one
    async with make_client(ctx) as client:
        started = conforms("startLogin", await start_login(client, account.login))
        challenge = started["challenge_id"]
        path = {"path_parameters": {"challenge_id": challenge}}
        conforms("getLoginChallenge", await client.get(f"/login/challenges/{challenge}"), **path)
        too_soon = await client.post("/login/resend", json={"challenge_id": challenge})
        assert conforms("resendLoginCode", too_soon)["code"] == "resend_too_soon"
        mistyped = await client.post(
            "/login/verify", json={"challenge_id": challenge, "code": wrong("111111")}
        )
        assert conforms("verifyLoginCode", mistyped)["attempts_left"] == 4
        verified = await client.post(
            "/login/verify", json={"challenge_id": challenge, "code": "111111"}
        )
        conforms("verifyLoginCode", verified)  # Set-Cookie included

        conforms("getSession", await client.get("/session"))
        created = await client.post("/auth-codes", json={"password": "nope"}, headers=unsafe)
        assert conforms("createAuthCode", created)["code"] == "invalid_credentials"
        created = await client.post("/auth-codes", json={"password": "wrong"}, headers={})
        assert conforms("createAuthCode", created)["code"] == "csrf_rejected"
        new = await client.post("/auth-codes", json={"password": PASSWORD}, headers=unsafe)
        code = conforms("createAuthCode", new)["code"]
        conforms("getCurrentAuthCode", await client.get("/auth-codes/current"))

        support = {"authorization": f"Bearer {key}"}
        body = {"customer": account.login, "code": code, "purpose": "ticket 7"}
        checked = await client.post("/auth-codes/verify", json=body, headers=support)
        assert conforms("verifyAuthCode", checked)["valid"] is True
        refused = await client.post(
            "/auth-codes/verify", json=body, headers={"authorization": "Bearer asv_nope"}
        )
        assert conforms("verifyAuthCode", refused)["code"] == "invalid_api_key"
        history = conforms("listAuthCodeHistory", await client.get("/auth-codes/history"))
        assert history[0]["result"] == "valid"  # type: ignore[index]

        conforms("revokeAuthCode", await client.delete("/auth-codes/current", headers=unsafe))

        other = (await bearer_session(ctx, account))["authorization"]
        sessions = conforms("listSessions", await client.get("/sessions"))
        assert len(sessions) == 2
        theirs = next(s["id"] for s in sessions if not s["current"])  # type: ignore[index]
        path = {"path_parameters": {"session_id": theirs}}
        conforms(
            "revokeSession", await client.delete(f"/sessions/{theirs}", headers=unsafe), **path
        )
        again = await client.delete(f"/sessions/{theirs}", headers=unsafe)
        assert conforms("revokeSession", again, **path)["code"] == "session_not_found"
        assert (await client.get("/session", headers={"authorization": other})).status_code == 401
        weak = {"password": PASSWORD, "new_password": "password"}
        changed = await client.post("/password", json=weak, headers=unsafe)
        assert conforms("changePassword", changed)["code"] == "weak_password"
        strong = {"password": PASSWORD, "new_password": NEW_PASSWORD}
        conforms("changePassword", await client.post("/password", json=strong, headers=unsafe))
        conforms("revokeOtherSessions", await client.delete("/sessions", headers=unsafe))

        conforms("logout", await client.post("/logout", headers=unsafe))  # clears the cookie
        ended = await client.get("/session")
        assert conforms("getSession", ended)["code"] == "not_authenticated"
        assert ended.headers["www-authenticate"].startswith("Bearer")


async def test_a_password_reset_answers_as_documented(ctx: ServiceContext) -> None:
    ctx = with_codes(ctx, "444444")
    account = await make_account(ctx)
    async with make_client(ctx) as client:
        requested = await client.post("/password/reset", json={"login": account.login})
        reset = conforms("requestPasswordReset", requested)["reset_id"]
        resent = await client.post("/password/reset/resend", json={"reset_id": reset})
        assert conforms("resendPasswordResetCode", resent)["code"] == "resend_too_soon"
        attempt = {"reset_id": reset, "code": "444444", "new_password": NEW_PASSWORD}
        mistyped = await client.post(
            "/password/reset/confirm", json={**attempt, "code": wrong("444444")}
        )
        assert conforms("confirmPasswordReset", mistyped)["code"] == "invalid_code"
        weak = await client.post(
            "/password/reset/confirm", json={**attempt, "new_password": "password"}
        )
        assert conforms("confirmPasswordReset", weak)["code"] == "weak_password"
        conforms("confirmPasswordReset", await client.post("/password/reset/confirm", json=attempt))
        used = await client.post("/password/reset/confirm", json=attempt)
        assert conforms("confirmPasswordReset", used)["code"] == "reset_expired"
