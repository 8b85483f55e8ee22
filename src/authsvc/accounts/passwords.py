"""argon2id hashing, always off the event loop, with bounded concurrency.

argon2 is deliberately slow (tens of milliseconds of CPU), so it runs in a thread pool
sized to the container's CPUs and memory (argon2-cffi releases the GIL; `argon2_threads`).
When more verifications wait for a thread than `argon2_max_waiting`, callers get
`Overloaded` at once instead of joining an unbounded queue: latency and memory stay
bounded under a login flood.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from authsvc.config import Settings
from authsvc.core.cgroups import argon2_threads
from authsvc.core.errors import Overloaded
from authsvc.ops.events import auth_event
from authsvc.ops.metrics import ARGON2_RUNNING, ARGON2_SHED, ARGON2_WAITING

T = TypeVar("T")


ARGON2_NICENESS = 10


def _lower_priority() -> None:
    """Run argon2 behind everything else on a busy CPU (on Linux, per thread).

    Logins still get every idle cycle, but health checks, support verifications and the
    event loop's database round trips no longer queue behind a password hash.
    """
    with contextlib.suppress(OSError, AttributeError):
        os.nice(ARGON2_NICENESS)


def _counted(fn: Callable[..., T], *args: str) -> T:
    """Run on an argon2 thread: no longer waiting, running until done."""
    ARGON2_WAITING.dec()
    ARGON2_RUNNING.inc()
    try:
        return fn(*args)
    finally:
        ARGON2_RUNNING.dec()


class PasswordHasher:
    def __init__(
        self,
        *,
        memory_kib: int,
        time_cost: int,
        parallelism: int,
        threads: int | None = None,
        max_waiting: int = 16,
    ) -> None:
        self._argon2 = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=argon2.Type.ID,
        )
        self.threads = threads or os.cpu_count() or 1
        self._executor = ThreadPoolExecutor(
            self.threads, thread_name_prefix="argon2", initializer=_lower_priority
        )
        self._capacity = self.threads + max_waiting
        self._in_flight = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> PasswordHasher:
        threads = settings.argon2_threads or argon2_threads(
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            processes=settings.workers,  # each worker process has its own pool
        )
        return cls(
            memory_kib=settings.argon2_memory_kib,
            time_cost=settings.argon2_time_cost,
            parallelism=settings.argon2_parallelism,
            threads=threads,
            max_waiting=settings.argon2_max_waiting,
        )

    def hash_blocking(self, password: str) -> str:
        """For the CLI, which has no event loop to protect."""
        return self._argon2.hash(password)

    async def hash(self, password: str) -> str:
        return await self._offload(self._argon2.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await self._offload(self._verify_blocking, password_hash, password)

    async def verify_dummy(self, password: str) -> None:
        """Spend the same time as a real verification; for unknown or disabled accounts."""
        await self._offload(self._verify_blocking, self._dummy_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._argon2.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    @cached_property
    def _dummy_hash(self) -> str:
        return self._argon2.hash(secrets.token_urlsafe(16))

    def _verify_blocking(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon2.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def _offload(self, fn: Callable[..., T], *args: str) -> T:
        if self._in_flight >= self._capacity:
            ARGON2_SHED.inc()
            auth_event("overloaded", outcome="shed", level=logging.WARNING)
            raise Overloaded(retry_after=1)
        self._in_flight += 1
        ARGON2_WAITING.inc()
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, _counted, fn, *args)
        finally:
            self._in_flight -= 1
