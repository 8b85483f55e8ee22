"""FastAPI dependencies every router uses: the service context and the request's session."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.context import ServiceContext


def context_of(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.ctx
    return ctx


# Dependencies are `async def` even when they do not await: FastAPI runs a plain `def`
# dependency in a worker thread, a hop that costs more than the work itself.
async def get_context(request: Request) -> ServiceContext:
    return context_of(request)


async def get_session(
    ctx: Annotated[ServiceContext, Depends(get_context)],
) -> AsyncGenerator[AsyncSession, None]:
    """The request's unit of work: committed when the endpoint returns, rolled back on
    any error, refusals included.

    A write that must outlive a refusal (an attempt counter, a failure count, an audit
    row) is committed at the call site with `keep_and_refuse` (core/db.py).
    """
    async with ctx.db.sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


Context = Annotated[ServiceContext, Depends(get_context)]
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
