from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ARRAY, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from authsvc.core.db import Base


class LoginChallenge(Base):
    """The second step of a login: the OTP sent after a correct password.

    Only an HMAC of the current code is kept, bound to this challenge's id.
    """

    __tablename__ = "login_challenges"
    __table_args__ = (
        Index("ix_login_challenges_account_id", "account_id"),
        Index("ix_login_challenges_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    channel: Mapped[str] = mapped_column(String(8))  # where a code goes (sent or resent)
    factor: Mapped[str] = mapped_column(String(16))  # the second step asked for
    factors: Mapped[list[str]] = mapped_column(ARRAY(String(16)))  # every one it accepts
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    resends: Mapped[int] = mapped_column(Integer, default=0)
    consumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The outbox message carrying the current code; None while no code was sent (the app).
    message_id: Mapped[uuid.UUID | None]
    notice_id: Mapped[uuid.UUID | None]  # the scheduled "second step not completed" e-mail
    ip: Mapped[str] = mapped_column(String(45))
    user_agent: Mapped[str] = mapped_column(Text)
