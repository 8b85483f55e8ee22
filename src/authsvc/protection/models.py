from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from authsvc.core.db import Base


class PasswordReset(Base):
    """A password reset in progress: a 6-digit code sent by the account's channel.

    Written for unknown logins too (with no account), so that the answers, and the
    attempts they count, are the same whether or not the login exists.
    """

    __tablename__ = "password_resets"
    __table_args__ = (
        Index("ix_password_resets_account_id", "account_id"),
        Index("ix_password_resets_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE")
    )
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    channel: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    resends: Mapped[int] = mapped_column(Integer, default=0)
    consumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str] = mapped_column(String(45))
    # The reset-rate counter of the login as typed, which its resends count against too;
    # NULL on resets opened before migration 0010.
    rate_key: Mapped[str | None] = mapped_column(Text)


class SecurityEvent(Base):
    """What was done to protect an account, and from where: "this wasn't me", a password
    change, a password reset. Kept like the support audit (`AUTHSVC_RETENTION_AUDIT`)."""

    __tablename__ = "security_events"
    __table_args__ = (
        Index("ix_security_events_account_id_created_at", "account_id", "created_at"),
        Index("ix_security_events_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str] = mapped_column(String(45))
    user_agent: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text)
