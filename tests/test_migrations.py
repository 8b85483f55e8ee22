"""The migrations build exactly the schema the models describe, and can be undone."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from authsvc.context import ServiceContext
from authsvc.models import metadata


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # alembic notes the expression index it cannot compare
        return list(compare_metadata(context, metadata))


async def test_migrated_schema_matches_the_models(ctx: ServiceContext) -> None:
    async with ctx.db.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []


def _downgrade_to_base(connection: Connection) -> None:
    from alembic import command

    from authsvc.ops.migrations import alembic_config

    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, "base")


async def test_every_migration_downgrades_and_upgrades_again(server_url: str) -> None:
    import secrets

    import asyncpg
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url

    from authsvc.core.db import create_engine
    from authsvc.ops.migrations import current_revision, head_revision, upgrade
    from tests.conftest import plain_dsn

    name = f"authsvc_migrations_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(plain_dsn(server_url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url, pool_size=1)
    try:
        await upgrade(engine)
        async with engine.begin() as connection:
            await connection.run_sync(_downgrade_to_base)
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
        assert tables == ["alembic_version"]
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def test_a_migrated_database_has_no_accounts(server_url: str) -> None:
    """No default account or support key exists (ASVS 5.0 V6.3.2): the operator makes
    each one with `authsvc accounts create` or `support-keys create`."""
    import asyncio

    import asyncpg

    from tests.browser.servers import scratch_database
    from tests.conftest import plain_dsn

    async def counts(url: str) -> dict[str, int]:
        fresh = await asyncpg.connect(plain_dsn(url))
        try:
            counted = {}
            for table in ("accounts", "support_keys", "sessions"):
                query = f"SELECT count(*) FROM {table}"  # noqa: S608 - names of our own
                counted[table] = await fresh.fetchval(query)
            return counted
        finally:
            await fresh.close()

    with scratch_database(server_url) as url:
        assert asyncio.run(counts(url)) == {"accounts": 0, "support_keys": 0, "sessions": 0}
