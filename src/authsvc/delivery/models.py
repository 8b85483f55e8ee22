"""The outbox table: one row per message, written in the transaction that caused it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from authsvc.core.db import Base

State = Literal["queued", "sent", "abandoned", "cancelled"]
# A message in one of these states is done with: its parameters are wiped, purge may drop it.
FINISHED_STATES: tuple[State, ...] = ("sent", "abandoned", "cancelled")


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint("channel IN ('email', 'sms')", name="channel_known"),
        CheckConstraint(
            "state IN ('queued', 'sent', 'abandoned', 'cancelled')", name="state_known"
        ),
        # The worker's only hot query: due queued rows in order. Finished rows stay out of it.
        Index(
            "ix_outbox_messages_due", "next_attempt_at", postgresql_where=text("state = 'queued'")
        ),
        # Failed messages still queued: what holds a recipient's later messages back.
        Index(
            "ix_outbox_messages_failing",
            "channel",
            "recipient",
            "send_after",
            postgresql_where=text("state = 'queued' AND last_error IS NOT NULL"),
        ),
        Index("ix_outbox_messages_account_id", "account_id"),
        Index("ix_outbox_messages_finished_at", "finished_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    channel: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(String(320))
    template: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8))
    # Parameters that are not secret; NULL once the message is finished.
    params: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    # Secret parameters (the OTP), AES-GCM sealed; NULL once the message is finished.
    sealed_params: Mapped[bytes | None] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Not before this time; the delivery TTL counts from here.
    send_after: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When a worker may next pick the row up: the due time, a retry time, or the end of
    # the lease held by the worker that is sending it right now.
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
