"""Statements on SMS budget counters. Counting one SMS is one statement, exact under
concurrency and across replicas."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import CheckConstraint, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.core.db import table_of
from authsvc.sms_guard.models import BUDGETS, SmsBudgetCounter
from authsvc.sms_guard.rules import Budget

# One more SMS on every budget, in the order given (models.BUDGETS). A counter that would
# pass its budget breaks its CHECK constraint (used <= allowed), which fails the whole
# statement: no budget counts an SMS that one of them refuses. Concurrent statements wait
# for each other's row locks and then see the counts they left, so at a budget's edge
# exactly the budget passes; all of them lock the rows in the same order, so they never
# deadlock. A statement of its own (autocommit): the locks, among them the service-wide
# counter that every SMS takes, last only as long as the statement.
_RESERVE = text(
    """
    INSERT INTO sms_budget_counters AS c (hour, budget, subject, used, allowed)
    SELECT :hour, w.budget, w.subject, 1, w.allowed
    FROM unnest(CAST(:budgets AS text[]), CAST(:subjects AS text[]),
                CAST(:allowed AS integer[])) WITH ORDINALITY AS w(budget, subject, allowed, n)
    ORDER BY w.n
    ON CONFLICT (hour, budget, subject) DO UPDATE
        SET used = c.used + 1, allowed = EXCLUDED.allowed
    """
)


def _constraints() -> dict[str, str]:
    """Each budget by the name of its CHECK constraint."""
    found = {}
    for constraint in table_of(SmsBudgetCounter).constraints:
        if isinstance(constraint, CheckConstraint):
            name = str(constraint.name)
            [budget] = [budget for budget in BUDGETS if name.endswith(f"_{budget}_within")]
            found[name] = budget
    return found


_BUDGET_OF_CONSTRAINT = _constraints()


async def reserve(
    session: AsyncSession, budgets: Sequence[Budget], *, hour: datetime
) -> str | None:
    """Count one SMS against every budget of `hour`, or against none: None when counted,
    else the name of the (first, widest) budget that is spent."""
    params = {
        "hour": hour,
        "budgets": [budget.budget for budget in budgets],
        "subjects": [budget.subject for budget in budgets],
        "allowed": [budget.allowed for budget in budgets],
    }
    try:
        await (await session.connection()).execute(_RESERVE, params)
    except IntegrityError as error:
        spent = _BUDGET_OF_CONSTRAINT.get(_constraint_name(error) or "")
        if spent is None:
            raise
        return spent
    return None


def _constraint_name(error: BaseException | None) -> str | None:
    """The constraint a driver error names (asyncpg's, behind SQLAlchemy's wrappers)."""
    while error is not None:
        name = getattr(error, "constraint_name", None)
        if isinstance(name, str):
            return name
        error = error.__cause__ or getattr(error, "orig", None)
    return None


@dataclass(frozen=True)
class Usage:
    budget: str
    subject: str
    used: int


async def usage(session: AsyncSession, *, hour: datetime, top: int) -> list[Usage]:
    """The counters of `hour`: per budget, the `top` most used (the busiest first)."""
    counters = table_of(SmsBudgetCounter)
    rank = (
        func.row_number()
        .over(partition_by=counters.c.budget, order_by=(counters.c.used.desc(), counters.c.subject))
        .label("rank")
    )
    ranked = (
        select(counters.c.budget, counters.c.subject, counters.c.used, rank)
        .where(counters.c.hour == hour)
        .subquery()
    )
    query = (
        select(ranked.c.budget, ranked.c.subject, ranked.c.used)
        .where(ranked.c.rank <= top)
        .order_by(ranked.c.budget, ranked.c.rank)
    )
    rows = await session.execute(query)
    return [Usage(budget, subject, used) for budget, subject, used in rows]
