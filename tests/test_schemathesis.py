"""schemathesis fuzzes the committed openapi.yaml against a live `authsvc serve`.

Every operation, the signed-in ones included: a real account with a session and a live
authorization code, a real support API key and a metrics token. Data is generated both
valid and invalid (positive and negative modes), and every response must conform to the
contract: status, content type, headers, body, never a 5xx. A documented 429 or 503 is a
conforming answer, so throttling cannot make this flaky; the limits are raised anyway, so
the fuzzer reaches past them into the code behind.

Examples are bounded per operation and derandomized, so a run takes the same path each
time: what fails once fails again. To hunt further, vary it:
`FUZZ_EXAMPLES=200 FUZZ_RANDOM=1 python3 dev.py test tests/test_schemathesis.py`.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import text

from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from authsvc.models import metadata
from tests.conftest import TEST_SECRET_KEY
from tests.factories import PASSWORD, make_account
from tests.support.helpers import bearer_session, support_key
from tests.util import free_port

pytestmark = [pytest.mark.slow, pytest.mark.fuzz]

# A new password the schema allows may still fail the policy (a common password, the
# login itself): `422 weak_password` is documented there, but is no "schema-valid data
# rejected" mistake. Every other check still runs on these operations.
POLICY_CHECKED = {"changePassword", "confirmPasswordReset"}

ROOT = Path(__file__).resolve().parent.parent
METRICS_TOKEN = "metrics-" + "m" * 32
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
# Enough fresh sessions that every logout the fuzzer sends ends one of its own.
LOGOUT_SESSIONS = 10 * EXAMPLES

schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml")
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=EXAMPLES,
    deterministic=os.environ.get("FUZZ_RANDOM") is None,
    # The credentials are ours (Credentials below), real ones: a generated cookie beside
    # a valid bearer token would pass for "the API accepts invalid credentials".
    with_security_parameters=False,
)


@dataclass
class Credentials:
    """What the fuzzer signs in with, by security scheme of openapi.yaml."""

    session: str
    api_key: str
    # Sessions for the operations that end sessions, so the fuzzer's own one lives on.
    logout_sessions: list[str] = field(default_factory=list)
    bystander_session: str = ""  # another account's, for "end all my other sessions"

    def headers_for(self, case: schemathesis.Case[Any]) -> dict[str, str]:
        operation = case.operation.definition.raw
        schemes = {name for requirement in operation.get("security") or [] for name in requirement}
        if "sessionBearer" in schemes:
            token = {
                "logout": lambda: self.logout_sessions.pop(),
                "revokeOtherSessions": lambda: self.bystander_session,
            }.get(operation["operationId"], lambda: self.session)()
            return {"Authorization": f"Bearer {token}"}
        if "supportApiKey" in schemes:
            return {"Authorization": f"Bearer {self.api_key}"}
        if "metricsToken" in schemes:
            return {"Authorization": f"Bearer {METRICS_TOKEN}"}
        return {}


@pytest.fixture(scope="module")
def live_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`authsvc serve` on the test database, as production runs it (minus the worker)."""
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "AUTHSVC_DATABASE_URL": database_url,
        "AUTHSVC_ENV": "dev",
        "AUTHSVC_SECRET_KEY": TEST_SECRET_KEY,
        "AUTHSVC_EMAIL_PROVIDER": "console",
        "AUTHSVC_SMS_PROVIDER": "console",
        "AUTHSVC_RUN_DELIVERY_WORKER": "false",
        "AUTHSVC_METRICS_TOKEN": METRICS_TOKEN,
        "AUTHSVC_LOG_LEVEL": "warning",
        "AUTHSVC_ARGON2_MEMORY_KIB": "19456",
        "AUTHSVC_ARGON2_TIME_COST": "2",
        # Past the limits into the code behind them (a 429 would conform all the same).
        "AUTHSVC_THROTTLE_FREE_FAILURES": "100000",
        "AUTHSVC_THROTTLE_IP_FREE_FAILURES": "100000",
        "AUTHSVC_PASSWORD_RESET_LIMIT": "100000",
        "AUTHSVC_PASSWORD_RESET_IP_LIMIT": "100000",
        "AUTHSVC_AUTH_CODE_GENERATION_LIMIT": "100000",
        "AUTHSVC_SUPPORT_KEY_RATE_LIMIT": "100000",
    }
    log = tmp_path_factory.mktemp("fuzz") / "serve.log"  # a file: a full pipe would block
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "authsvc", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(process, url, log)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
    # The fuzzer only sees answers; the server's log tells whether anything broke inside.
    assert "unhandled error" not in log.read_text(errors="replace"), log.read_text()


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("authsvc serve did not become ready")


@pytest_asyncio.fixture(scope="module")
async def credentials(
    base_ctx: ServiceContext, clock: MovableClock, live_server: str
) -> AsyncIterator[Credentials]:
    """A signed-in customer and a support tool; the tables are emptied afterwards."""
    clock.reset()  # the server keeps real time: so must what is written for it
    account = await make_account(base_ctx)
    session = (await bearer_session(base_ctx, account))["authorization"].removeprefix("Bearer ")
    logout_sessions = [
        (await bearer_session(base_ctx, account))["authorization"].removeprefix("Bearer ")
        for _ in range(LOGOUT_SESSIONS)
    ]
    bystander = await bearer_session(base_ctx, await make_account(base_ctx))
    api_key = await support_key(base_ctx, name=f"fuzz-{secrets.token_hex(4)}")
    yield Credentials(
        session=session,
        api_key=api_key,
        logout_sessions=logout_sessions,
        bystander_session=bystander["authorization"].removeprefix("Bearer "),
    )
    tables = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    async with base_ctx.db.engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} CASCADE"))


@pytest.fixture
def live_code(live_server: str, credentials: Credentials) -> None:
    """An active authorization code when each operation's run starts (the fuzzer may
    revoke it, or lock it with wrong guesses, as it goes)."""
    response = httpx.post(
        f"{live_server}/auth-codes",
        json={"password": PASSWORD},
        headers={"Authorization": f"Bearer {credentials.session}"},
    )
    assert response.status_code == 201, response.text


@schema.parametrize()
@settings(
    deadline=5000,  # ms per example; argon2 at the floor takes ~30 ms
    database=None,
    # live_code runs once per operation, by design, not once per example.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_the_live_api_conforms_to_openapi_yaml(
    case: schemathesis.Case[Any], live_server: str, credentials: Credentials, live_code: None
) -> None:
    excluded: list[schemathesis.CheckFunction] = []
    if case.operation.definition.raw["operationId"] in POLICY_CHECKED:
        excluded.append(positive_data_acceptance)
    case.call_and_validate(
        base_url=live_server,
        headers=credentials.headers_for(case),
        excluded_checks=excluded,
        timeout=10,
    )
