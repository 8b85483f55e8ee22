from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from authsvc.core.db import Base

KINDS = ("email", "phone")


class ContactChange(Base):
    """A change of the account's e-mail address or phone number, waiting for the code sent
    to the new one. The account keeps its old, verified address until the code is
    confirmed, so `accounts.email` and `accounts.phone` only ever hold verified ones."""

    __tablename__ = "contact_changes"
    __table_args__ = (
        Index("ix_contact_changes_account_id", "account_id"),
        Index("ix_contact_changes_expires_at", "expires_at"),
        CheckConstraint("kind IN ('email', 'phone')", name="kind_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    new_value: Mapped[str] = mapped_column(String(254))  # normalised; E.164 for a phone
    # What the account had before (None: no phone yet), put back by "this wasn't me".
    old_value: Mapped[str | None] = mapped_column(String(254))
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    consumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str] = mapped_column(String(45))
