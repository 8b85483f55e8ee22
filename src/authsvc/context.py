"""What the running service holds for its lifetime, shared by requests and the worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.accounts.passwords import PasswordHasher
from authsvc.config import Settings
from authsvc.core.clock import Clock, SystemClock
from authsvc.core.crypto import Keyring
from authsvc.core.db import Database
from authsvc.core.errors import AppError


@dataclass
class ServiceContext:
    settings: Settings
    db: Database
    clock: Clock
    hasher: PasswordHasher
    keyring: Keyring

    @classmethod
    def build(
        cls, settings: Settings, database_url: str, *, clock: Clock | None = None
    ) -> ServiceContext:
        return cls(
            settings=settings,
            db=Database.from_url(database_url, pool_size=settings.db_pool_size),
            clock=clock or SystemClock(),
            hasher=PasswordHasher.from_settings(settings),
            keyring=Keyring(settings.secret_keys()),
        )

    async def close(self) -> None:
        self.hasher.close()
        await self.db.dispose()


# Dependencies are `async def` even when they do not await: FastAPI runs a plain `def`
# dependency in a worker thread, a hop that costs more than the work itself.
async def get_context(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.ctx
    return ctx


async def get_session(
    ctx: Annotated[ServiceContext, Depends(get_context)],
) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent.

    A domain refusal (AppError) still commits: the attempt counts, throttle failures and
    audit rows written on the way to that refusal must persist. Any other error rolls back.
    """
    async with ctx.db.sessionmaker() as session:
        try:
            yield session
        except AppError:
            await session.commit()
            raise
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


Context = Annotated[ServiceContext, Depends(get_context)]
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
