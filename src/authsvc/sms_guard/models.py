from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from authsvc.core.db import Base

# The budgets, in the order one SMS takes them (rules.budgets): the widest first, so a
# refusal names the widest budget that is spent, and every statement locks the counters
# in one order (no deadlock between two of them).
BUDGETS = ("service", "country", "prefix", "number", "ip")


def _within(budget: str) -> CheckConstraint:
    # One constraint per budget: the name of the one a refused statement broke says which
    # budget is spent (repository.reserve).
    return CheckConstraint(f"budget <> '{budget}' OR used <= allowed", name=f"{budget}_within")


class SmsBudgetCounter(Base):
    """SMS counted against one budget (a number, a prefix, a country, the service, a client
    address) in one clock hour. Kept in PostgreSQL so the budgets hold across replicas.

    `allowed` is the budget when the counter was last written: the CHECK makes the
    database itself refuse a count over it, so the statement that would pass it fails
    whole and counts nothing anywhere (repository.reserve).
    """

    __tablename__ = "sms_budget_counters"
    __table_args__ = tuple(_within(budget) for budget in BUDGETS)

    # The hour first: `sms status` reads one hour and the purge drops past ones by it.
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    budget: Mapped[str] = mapped_column(String(8), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    used: Mapped[int] = mapped_column(Integer)
    allowed: Mapped[int] = mapped_column(Integer)
