"""Migration 0009 checks the numbers stored before it like new ones: each is normalised, or
moved aside (the account then goes by e-mail) where `authsvc accounts list` shows why."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url

from authsvc.core.db import create_engine
from authsvc.ops.migrations import upgrade
from tests.cli import run_cli
from tests.conftest import plain_dsn

STORED = {
    # login: (phone, channel) as accounts held them at 0007
    "mobile": ("+48601234567", "sms"),
    "spaced": ("+48 601 234 568", "sms"),
    "fixed": ("+48221234567", "sms"),
    "premium": ("+48700123456", "email"),
    "american": ("+12125550100", "sms"),
    "british": ("+447400123456", "sms"),
    "none": (None, "email"),
}


@pytest_asyncio.fixture
async def at_0007(server_url: str) -> AsyncIterator[str]:
    """A database of its own at revision 0007, with accounts holding the numbers above."""
    name = f"authsvc_0008_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(plain_dsn(server_url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url, pool_size=1)
    try:
        await upgrade(engine, "0007")
        connection = await asyncpg.connect(plain_dsn(url))
        for login, (phone, channel) in STORED.items():
            await connection.execute(
                "INSERT INTO accounts (id, login, password_hash, email, phone, channel, locale, "
                "created_at, updated_at) VALUES ($1, $2, 'x', $3, $4, $5, 'en', now(), now())",
                uuid.uuid4(), login, f"{login}@example.com", phone, channel,
            )  # fmt: skip
        await connection.close()
        yield url
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _accounts(url: str) -> dict[str, tuple[str | None, str | None, str]]:
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        rows = await connection.fetch("SELECT login, phone, phone_invalid, channel FROM accounts")
    finally:
        await connection.close()
    return {row["login"]: (row["phone"], row["phone_invalid"], row["channel"]) for row in rows}


async def _phones(url: str) -> dict[str, str | None]:
    """At 0007, where there is no phone_invalid column."""
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        rows = await connection.fetch("SELECT login, phone FROM accounts")
    finally:
        await connection.close()
    return {row["login"]: row["phone"] for row in rows}


async def test_stored_numbers_are_normalised_or_moved_aside_with_the_account_on_email(
    at_0007: str, monkeypatch: pytest.MonkeyPatch, cli_env: dict[str, str]
) -> None:
    # The countries as the service is configured, read from its environment.
    monkeypatch.setenv("AUTHSVC_SMS_COUNTRIES", "PL,GB")
    engine = create_engine(at_0007, pool_size=1)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    assert await _accounts(at_0007) == {
        "mobile": ("+48601234567", None, "sms"),
        "spaced": ("+48601234568", None, "sms"),
        "fixed": (None, "+48221234567", "email"),
        "premium": (None, "+48700123456", "email"),
        "american": (None, "+12125550100", "email"),
        "british": ("+447400123456", None, "sms"),
        "none": (None, None, "email"),
    }

    env = cli_env | {"AUTHSVC_DATABASE_URL": at_0007, "AUTHSVC_SMS_COUNTRIES": "PL,GB"}
    listed = run_cli("accounts", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert "+48221234567 (refused: not_mobile)" in lines["fixed"]
    assert "+48700123456 (refused: not_mobile)" in lines["premium"]
    assert "+12125550100 (refused: country_not_allowed)" in lines["american"]
    assert "+48601234567" in lines["mobile"] and "refused" not in lines["mobile"]


async def test_the_downgrade_puts_the_numbers_back(at_0007: str) -> None:
    from alembic import command
    from sqlalchemy import Connection

    from authsvc.ops.migrations import alembic_config

    def downgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0007")

    engine = create_engine(at_0007, pool_size=1)
    try:
        await upgrade(engine)
        async with engine.begin() as migrating:
            await migrating.run_sync(downgrade)
    finally:
        await engine.dispose()
    phones = await _phones(at_0007)
    assert phones["fixed"] == "+48221234567" and phones["american"] == "+12125550100"
