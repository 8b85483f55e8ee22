"""What the running service holds for its lifetime, shared by requests and the worker."""

from __future__ import annotations

from dataclasses import dataclass

from authsvc.accounts.passwords import PasswordHasher
from authsvc.config import Settings
from authsvc.core.clock import Clock, SystemClock
from authsvc.core.codes import CodeGenerator, random_code
from authsvc.core.crypto import Keyring
from authsvc.core.db import Database


@dataclass
class ServiceContext:
    settings: Settings
    db: Database
    clock: Clock
    hasher: PasswordHasher
    keyring: Keyring
    codes: CodeGenerator = random_code

    @classmethod
    def build(
        cls,
        settings: Settings,
        database_url: str,
        *,
        clock: Clock | None = None,
        codes: CodeGenerator = random_code,
        application_name: str = "authsvc",
    ) -> ServiceContext:
        db = Database.from_url(
            database_url, pool_size=settings.db_pool_size, application_name=application_name,
            transaction_pooled=settings.transaction_pooled,
        )  # fmt: skip
        return cls(
            settings=settings,
            db=db,
            clock=clock or SystemClock(),
            hasher=PasswordHasher.from_settings(settings),
            keyring=Keyring(settings.secret_keys()),
            codes=codes,
        )

    async def close(self) -> None:
        self.hasher.close()
        await self.db.dispose()
