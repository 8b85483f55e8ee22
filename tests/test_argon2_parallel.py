"""argon2 must release the GIL, or the thread pool runs one verification at a time and
the event loop stalls for the length of each one."""

from __future__ import annotations

import os
import threading

from authsvc.accounts.passwords import ARGON2_NICENESS, PasswordHasher


def test_argon2_releases_the_gil_while_hashing() -> None:
    slow = PasswordHasher(memory_kib=19456, time_cost=40, parallelism=1)  # ~0.3 s a hash
    worker = threading.Thread(target=slow.hash_blocking, args=("a password to hash",))
    spins = 0
    worker.start()
    while worker.is_alive():
        spins += 1
    slow.close()
    # Holding the GIL, the hash would leave this loop a handful of switch intervals;
    # released, the loop runs freely the whole time (millions of turns).
    assert spins > 200_000, spins


async def test_argon2_threads_run_at_lower_priority() -> None:
    hasher = PasswordHasher(memory_kib=19456, time_cost=2, parallelism=1)
    niceness = await hasher._offload(lambda: os.getpriority(os.PRIO_PROCESS, 0))
    hasher.close()
    assert niceness == os.getpriority(os.PRIO_PROCESS, 0) + ARGON2_NICENESS
