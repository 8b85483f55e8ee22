from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from authsvc.core.db import Base


class ThrottleCounter(Base):
    """One counter per key (`login:name:<login>`, `login:ip:<ip>`, `rate:support-key:<id>`).

    Kept in PostgreSQL so every limit holds across replicas.
    """

    __tablename__ = "throttle_counters"
    __table_args__ = (Index("ix_throttle_counters_updated_at", "updated_at"),)

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The client addresses behind a login's failures this window (at most a few), for the
    # customer's attack notice.
    ips: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
