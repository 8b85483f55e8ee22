"""Shared test plumbing: a real PostgreSQL, a migrated scratch database, the app over ASGI.

The server is the embedded one (started once per run) unless AUTHSVC_TEST_DATABASE_URL
names another; either way the tests get a scratch database of their own, migrated once,
and every table is emptied after each test.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import make_url

from authsvc.app import create_app
from authsvc.config import ARGON2_MIN_MEMORY_KIB, ARGON2_MIN_TIME_COST, Settings
from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from authsvc.core.codes import ScriptedCodes
from authsvc.core.db import create_engine
from authsvc.models import metadata
from authsvc.ops.embedded import EmbeddedPostgres
from authsvc.ops.migrations import upgrade

TEST_SECRET_KEY = "test-secret-key-" + "k" * 32
PANEL_ORIGIN = "https://panel.example.com"


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of a database on the PostgreSQL server the tests use (not the scratch one)."""
    configured = os.environ.get("AUTHSVC_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    data_dir = Path(tempfile.mkdtemp(prefix="authsvc-test-pg-"))
    data_dir.chmod(0o755)  # the embedded server runs as its own OS user when we are root
    embedded = EmbeddedPostgres(data_dir)
    try:
        yield embedded.start(database="postgres")
    finally:
        embedded.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def plain_dsn(url: str) -> str:
    """The SQLAlchemy URL as a DSN asyncpg reads itself (unix sockets via ?host=)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest_asyncio.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    """A scratch database, migrated to head, dropped after the run."""
    name = f"authsvc_test_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(plain_dsn(server_url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url, pool_size=1)
    await upgrade(engine)
    await engine.dispose()
    try:
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "dev",
        "secret_key": SecretStr(TEST_SECRET_KEY),
        "allowed_origins": [PANEL_ORIGIN],
        "email_provider": "console",
        "sms_provider": "console",
        "dev_mailbox": False,  # never a file in the developer's own data folder
        # OWASP's floor instead of the stronger production default: the suite hashes
        # hundreds of passwords, and the rules under test do not depend on the cost.
        "argon2_memory_kib": ARGON2_MIN_MEMORY_KIB,
        "argon2_time_cost": ARGON2_MIN_TIME_COST,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture(scope="session")
def service_database(database_url: str) -> Iterator[tuple[str, dict[str, object]]]:
    """The URL the service context uses and the settings that go with it: the scratch
    database itself, or with AUTHSVC_TEST_POOLER=pgbouncer, the same through a real
    PgBouncer in transaction pooling mode (tests/pooler.py)."""
    if os.environ.get("AUTHSVC_TEST_POOLER", "") != "pgbouncer":
        yield database_url, {}
        return
    from tests.pooler import BINARY, MISSING, PgBouncer

    if BINARY is None:
        pytest.fail(f"AUTHSVC_TEST_POOLER=pgbouncer, but {MISSING}")
    bouncer = PgBouncer(database_url)
    bouncer.start()
    try:
        yield bouncer.url(database_url), pooled_settings(database_url)
    finally:
        bouncer.close()


def pooled_settings(direct_url: str) -> dict[str, object]:
    """Settings of a service behind a transaction pooler, `direct_url` past it."""
    return {"database_pooler": "transaction", "database_direct_url": SecretStr(direct_url)}


@pytest_asyncio.fixture(scope="session")
async def base_ctx(
    service_database: tuple[str, dict[str, object]], clock: MovableClock
) -> AsyncIterator[ServiceContext]:
    url, settings = service_database
    ctx = ServiceContext.build(make_settings(**settings), url, clock=clock)
    yield ctx
    await ctx.close()


@pytest_asyncio.fixture
async def ctx(base_ctx: ServiceContext, clock: MovableClock) -> AsyncIterator[ServiceContext]:
    """The service context, with the clock back at the real time and empty tables after."""
    clock.reset()
    yield base_ctx
    tables = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    async with base_ctx.db.engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} CASCADE"))


def with_settings(ctx: ServiceContext, **overrides: object) -> ServiceContext:
    """The same database and clock under other settings."""
    # Validated like real settings, so "x" for a SecretStr field becomes a SecretStr.
    settings = Settings.model_validate({**dict(ctx.settings), **overrides})
    return dataclasses.replace(ctx, settings=settings)


def with_codes(ctx: ServiceContext, *codes: str) -> ServiceContext:
    """The same context, handing out `codes` in order as the next codes it generates."""
    return dataclasses.replace(ctx, codes=ScriptedCodes(codes))


def make_client(
    ctx: ServiceContext, *, ip: str = "203.0.113.7", base_url: str = "https://authsvc.test"
) -> httpx.AsyncClient:
    """The app over ASGI, as seen from a client at `ip`."""
    app = create_app(ctx=ctx)
    transport = httpx.ASGITransport(app=app, client=(ip, 50000))
    return httpx.AsyncClient(transport=transport, base_url=base_url)


@pytest_asyncio.fixture
async def client(ctx: ServiceContext) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(ctx) as http:
        yield http


@pytest.fixture
def cli_env(database_url: str) -> dict[str, str]:
    """Environment for running `authsvc` as a subprocess against the scratch database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSVC_")}
    env.update(
        AUTHSVC_DATABASE_URL=database_url,
        AUTHSVC_ENV="dev",
        AUTHSVC_SECRET_KEY=TEST_SECRET_KEY,
        AUTHSVC_SMS_PROVIDER="console",
        AUTHSVC_EMAIL_PROVIDER="console",
        AUTHSVC_DEV_MAILBOX="false",  # never a file in the developer's own data folder
    )
    return env
