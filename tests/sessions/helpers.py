"""Helpers of the session tests."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def until_waiting_on_locks(connection: AsyncConnection, count: int) -> None:
    """Until `count` backends of this database wait for a lock (a condition, not a time),
    asked on `connection` (its transaction's statistics snapshot cleared each time)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock'"
    )
    for _ in range(1000):
        await connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        if (await connection.execute(query)).scalar_one() >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} checks never waited for the row lock")
