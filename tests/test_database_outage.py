"""A database that drops connections or cannot be reached: 503 with a code, never a 500,
and the pool heals by itself (the engine does not ping before each checkout)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy import text

from authsvc.config import Settings
from authsvc.context import ServiceContext
from tests.conftest import make_client
from tests.factories import make_account
from tests.login.flow import start_login
from tests.util import free_port


@asynccontextmanager
async def own_context(ctx: ServiceContext, database_url: str) -> AsyncIterator[ServiceContext]:
    """A context with its own pool of one connection, so a test can cut exactly that one."""
    settings = Settings.model_validate({**dict(ctx.settings), "db_pool_size": 1})
    own = ServiceContext.build(settings, database_url, clock=ctx.clock)
    try:
        yield own
    finally:
        await own.close()


async def terminate_backend(ctx: ServiceContext, pid: int) -> None:
    """Have PostgreSQL end one session, as a restart or failover would, and wait for it."""
    # Autocommit: pg_stat_activity is a snapshot that lasts as long as its transaction.
    async with ctx.db.autocommit() as session:
        await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        for _ in range(100):
            alive = await session.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            )
            if not alive:
                return
            await asyncio.sleep(0.05)
    raise AssertionError("the backend did not go away")


def assert_database_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    assert response.json()["code"] == "database_unavailable"
    assert "Traceback" not in response.text and "asyncpg" not in response.text


async def test_a_connection_cut_by_postgres_costs_one_503_then_the_pool_heals(
    ctx: ServiceContext, database_url: str
) -> None:
    await make_account(ctx, login="steady")
    async with own_context(ctx, database_url) as own, make_client(own) as http:
        assert (await start_login(http, "steady")).status_code == 200
        async with own.db.engine.connect() as connection:  # the pool's one idle connection
            pid = await connection.scalar(text("SELECT pg_backend_pid()"))
        assert isinstance(pid, int)
        await terminate_backend(ctx, pid)

        assert_database_unavailable(await start_login(http, "steady"))
        assert (await start_login(http, "steady")).status_code == 200


async def test_an_unreachable_database_is_a_503_on_every_kind_of_endpoint(
    ctx: ServiceContext,
) -> None:
    nowhere = f"postgresql+asyncpg://authsvc@127.0.0.1:{free_port()}/authsvc"
    async with own_context(ctx, nowhere) as own, make_client(own) as http:
        # /login opens its own connections; /login/verify goes through the request session.
        assert_database_unavailable(await start_login(http, "anyone"))
        verify = {"challenge_id": "00000000-0000-4000-8000-000000000000", "code": "123456"}
        assert_database_unavailable(await http.post("/login/verify", json=verify))
