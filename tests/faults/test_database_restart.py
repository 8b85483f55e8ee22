"""The embedded PostgreSQL stopped and started again under a steady trickle of logins,
support verifications and session checks against `authsvc serve`: no 500 ever, only
503s while it is down, the first success within seconds of it being back, and the
session and the authorization code outlive the restart.

It runs a PostgreSQL of its own: the suite's shared server is never stopped.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest
import pytest_asyncio

from authsvc.config import ARGON2_MIN_MEMORY_KIB, ARGON2_MIN_TIME_COST
from authsvc.context import ServiceContext
from authsvc.core.db import create_engine
from authsvc.ops.embedded import EmbeddedPostgres
from authsvc.ops.migrations import upgrade
from tests.conftest import TEST_SECRET_KEY, make_client, make_settings, plain_dsn
from tests.factories import PASSWORD, make_account
from tests.faults.helpers import assert_problem, serving
from tests.support.helpers import bearer_session, support_key
from tests.util import free_port

pytestmark = pytest.mark.slow

LOGIN = "restart-survivor"
PACE = 0.1  # seconds between two requests of one kind
DOWN_FOR = 2.5  # seconds the database stays stopped
BACK_WITHIN = 5.0  # seconds from "started" to the first success of each kind


@dataclass(frozen=True)
class Outcome:
    kind: str
    started: float
    finished: float
    status: int
    code: str | None


@dataclass
class Own:
    data_dir: Path
    url: str
    postgres: EmbeddedPostgres


def make_data_dir() -> Path:
    data_dir = Path(tempfile.mkdtemp(prefix="authsvc-fault-pg-"))
    data_dir.chmod(0o755)  # the embedded server runs as its own OS user when we are root
    return data_dir


@pytest_asyncio.fixture
async def own_postgres() -> AsyncIterator[Own]:
    data_dir = await asyncio.to_thread(make_data_dir)
    postgres = EmbeddedPostgres(data_dir)
    try:
        url = await asyncio.to_thread(postgres.start)
        engine = create_engine(url, pool_size=1)
        await upgrade(engine)
        await engine.dispose()
        yield Own(data_dir, url, postgres)
    finally:
        await asyncio.to_thread(postgres.stop)
        shutil.rmtree(data_dir, ignore_errors=True)


def serve_env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSVC_")}
    env.update(
        AUTHSVC_DATABASE_URL=database_url,
        AUTHSVC_DATA_DIR=str(data_dir),
        AUTHSVC_ENV="dev",
        AUTHSVC_SECRET_KEY=TEST_SECRET_KEY,
        AUTHSVC_SMS_PROVIDER="console",
        AUTHSVC_EMAIL_PROVIDER="console",
        AUTHSVC_ARGON2_MEMORY_KIB=str(ARGON2_MIN_MEMORY_KIB),
        AUTHSVC_ARGON2_TIME_COST=str(ARGON2_MIN_TIME_COST),
        AUTHSVC_SUPPORT_KEY_RATE_LIMIT="100000",  # the trickle is not what is measured
    )
    return env


@dataclass
class Trickle:
    """Requests of each kind, one every PACE seconds, until `stop` is set."""

    outcomes: list[Outcome]
    stop: asyncio.Event
    back_since: float = float("inf")  # set once the database is started again

    def __post_init__(self) -> None:
        self.back: dict[str, asyncio.Event] = {}

    async def run(self, kind: str, send: Callable[[], Awaitable[httpx.Response]]) -> None:
        back = self.back.setdefault(kind, asyncio.Event())
        while not self.stop.is_set():
            started = time.monotonic()
            response = await send()
            code = None
            if response.status_code >= 400:
                code = str(assert_problem(response)["code"])
            self.outcomes.append(
                Outcome(kind, started, time.monotonic(), response.status_code, code)
            )
            if response.status_code == 200 and started > self.back_since:
                back.set()
            await asyncio.sleep(PACE)

    async def all_back(self) -> None:
        for event in self.back.values():
            await event.wait()


async def test_a_database_restart_under_load_gives_503s_then_heals_without_losing_sessions(
    own_postgres: Own, tmp_path: Path
) -> None:
    ctx = ServiceContext.build(make_settings(), own_postgres.url)
    try:
        account = await make_account(ctx, login=LOGIN)
        me = await bearer_session(ctx, account)
        support = {"authorization": f"Bearer {await support_key(ctx)}"}
    finally:
        await ctx.close()

    port = free_port()
    env = serve_env(own_postgres.url, tmp_path)
    with serving(env, port, tmp_path / "serve.log"):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            generated = await http.post("/auth-codes", json={"password": PASSWORD}, headers=me)
            assert generated.status_code == 201, generated.text
            code = generated.json()["code"]
            check = {"customer": LOGIN, "code": code, "purpose": "restart drill"}
            kinds: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
                "login": lambda: http.post("/login", json={"login": LOGIN, "password": PASSWORD}),
                "verify": lambda: http.post("/auth-codes/verify", json=check, headers=support),
                "session": lambda: http.get("/session", headers=me),
            }
            outcomes: list[Outcome] = []
            stop = asyncio.Event()
            load = Trickle(outcomes, stop)
            tasks = [asyncio.create_task(load.run(kind, send)) for kind, send in kinds.items()]
            try:
                await asyncio.sleep(1.0)
                stopping = time.monotonic()
                await asyncio.to_thread(own_postgres.postgres.stop)
                stopped = time.monotonic()
                await asyncio.sleep(DOWN_FOR)
                starting = time.monotonic()
                url = await asyncio.to_thread(own_postgres.postgres.start)
                started = time.monotonic()
                assert url == own_postgres.url  # same socket: the service needs no new address
                load.back_since = started
                await asyncio.wait_for(load.all_back(), BACK_WITHIN + 5)
                await asyncio.sleep(0.5)  # a little steady state after
            finally:
                stop.set()
                await asyncio.gather(*tasks)

            # No 500, and nothing but success or "the database is away".
            unexpected = [o for o in outcomes if (o.status, o.code) != (200, None)]
            assert {(o.status, o.code) for o in unexpected} <= {(503, "database_unavailable")}, (
                unexpected
            )
            # While it was down, every request was a 503.
            down = [o for o in outcomes if o.started > stopped and o.finished < starting]
            assert len(down) >= 3 * int(DOWN_FOR / (2 * PACE)), len(down)
            assert all(o.status == 503 for o in down), down
            # Before the stop, everything worked.
            assert all(o.status == 200 for o in outcomes if o.finished < stopping)
            # Each kind succeeds again within seconds of the server being back.
            for kind in kinds:
                first = min(
                    o.finished
                    for o in outcomes
                    if o.kind == kind and o.started > started and o.status == 200
                )
                assert first - started < BACK_WITHIN, (kind, first - started)

            # Nothing was lost: the same session and the same code still work.
            session = await http.get("/session", headers=me)
            assert session.status_code == 200, session.text
            assert session.json()["account"]["login"] == LOGIN
            verified = await http.post("/auth-codes/verify", json=check, headers=support)
            assert verified.json()["valid"] is True, verified.text
            assert (await http.get("/readyz")).status_code == 200


async def test_a_real_server_shutting_down_gives_503s_while_it_refuses_connections(
    own_postgres: Own,
) -> None:
    """A real 57P03: a smart shutdown (SIGTERM to the postmaster) waits for open sessions
    and meanwhile refuses new connections with "the database system is shutting down"."""
    blocker = await asyncpg.connect(plain_dsn(own_postgres.url))  # holds the shutdown open
    pid = int((own_postgres.data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
    try:
        os.kill(pid, signal.SIGTERM)
        await refused_with_57p03(own_postgres.url)

        fresh = ServiceContext.build(make_settings(), own_postgres.url)  # an empty pool
        try:
            async with make_client(fresh) as http:
                support = {"authorization": "Bearer asv_" + "k" * 43}
                for response in [
                    await http.post("/login", json={"login": LOGIN, "password": PASSWORD}),
                    await http.get("/session", headers={"authorization": "Bearer " + "t" * 43}),
                    await http.post(
                        "/auth-codes/verify",
                        json={"customer": LOGIN, "code": "123456"},
                        headers=support,
                    ),
                ]:
                    assert_problem(response, 503, "database_unavailable")
                    assert response.headers["retry-after"] == "1"
                assert_problem(await http.get("/readyz"), 503, "not_ready")
        finally:
            await fresh.close()
    finally:
        await blocker.close()
    # The shutdown completes once the last session is gone; the fixture starts nothing new.
    await until_gone(pid)
    await asyncio.to_thread(own_postgres.postgres.stop)


async def refused_with_57p03(url: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            probe = await asyncpg.connect(plain_dsn(url))
        except asyncpg.CannotConnectNowError:
            return
        await probe.close()
        assert time.monotonic() < deadline, "the server never refused a connection"
        await asyncio.sleep(0.05)


async def until_gone(pid: int) -> None:
    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the postmaster did not stop"
        await asyncio.sleep(0.05)
