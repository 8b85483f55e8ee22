"""Small helpers for the SMS guard's tests."""

from __future__ import annotations

from sqlalchemy import text

from authsvc.context import ServiceContext

# A Polish mobile range (60x is mobile): numbers in it differ only in their last 4 digits.
PREFIX = "+4860123"
OTHER_PREFIX = "+4851123"


def number(prefix: str, n: int) -> str:
    """The `n`th number of a range whose prefix lacks the last 4 digits."""
    return f"{prefix}{n:04d}"


async def counters(ctx: ServiceContext) -> dict[tuple[str, str], int]:
    """Every SMS budget counter, of any hour: (budget, subject) -> used."""
    async with ctx.db.transaction() as session:
        rows = await session.execute(text("SELECT budget, subject, used FROM sms_budget_counters"))
        return {(budget, subject): used for budget, subject, used in rows}
