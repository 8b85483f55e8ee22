"""What survives a refusal: the request's session rolls back on any error, and only writes
kept with `keep_and_refuse` outlive the refusal that follows them."""

from __future__ import annotations

import logging
from contextlib import aclosing

import httpx
import pytest
from sqlalchemy import select

from authsvc.app import create_app
from authsvc.context import ServiceContext
from authsvc.core.db import keep_and_refuse
from authsvc.login.errors import InvalidCode
from authsvc.throttling import repository as counters
from authsvc.throttling.models import ThrottleCounter
from authsvc.web.dependencies import get_session
from tests.test_http_basics import assert_problem


async def _counter_exists(ctx: ServiceContext, key: str) -> bool:
    async with ctx.db.transaction() as session:
        found = await session.scalar(select(ThrottleCounter.key).where(ThrottleCounter.key == key))
    return found is not None


async def _write_then_refuse(ctx: ServiceContext, key: str, *, keep: bool) -> None:
    """Run the request session as FastAPI does: a write, then a refusal thrown into it."""
    async with aclosing(get_session(ctx)) as unit_of_work:
        session = await anext(unit_of_work)
        now = ctx.clock.now()
        await counters.count_hit(session, key, now=now, window_start=now)
        refusal = await keep_and_refuse(session, InvalidCode()) if keep else InvalidCode()
        with pytest.raises(InvalidCode):
            await unit_of_work.athrow(refusal)


async def test_a_write_followed_by_a_refusal_is_rolled_back(ctx: ServiceContext) -> None:
    await _write_then_refuse(ctx, "test:rolled-back", keep=False)
    assert not await _counter_exists(ctx, "test:rolled-back")


async def test_a_write_kept_before_the_refusal_survives_it(ctx: ServiceContext) -> None:
    await _write_then_refuse(ctx, "test:kept", keep=True)
    assert await _counter_exists(ctx, "test:kept")


async def test_the_session_commits_when_the_request_succeeds(ctx: ServiceContext) -> None:
    async with aclosing(get_session(ctx)) as unit_of_work:
        session = await anext(unit_of_work)
        now = ctx.clock.now()
        await counters.count_hit(session, "test:committed", now=now, window_start=now)
        with pytest.raises(StopAsyncIteration):
            await anext(unit_of_work)
    assert await _counter_exists(ctx, "test:committed")


async def test_an_unexpected_os_error_is_a_500_without_internals_and_is_logged(
    ctx: ServiceContext, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(ctx=ctx)

    @app.get("/boom")
    async def boom() -> None:
        raise FileNotFoundError("/srv/authsvc/templates/secret-path.toml")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="authsvc.errors"):
        async with httpx.AsyncClient(transport=transport, base_url="https://t") as http:
            response = await http.get("/boom")
    assert_problem(response, 500, "internal_error")
    assert "secret-path" not in response.text and "FileNotFoundError" not in response.text
    assert any("FileNotFoundError" in record.getMessage() for record in caplog.records)
