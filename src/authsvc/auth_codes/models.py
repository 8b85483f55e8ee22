from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy import text as sql
from sqlalchemy.orm import Mapped, mapped_column

from authsvc.core.db import Base

REVOKE_REASONS = ("replaced", "revoked", "locked")


class AuthCode(Base):
    """An authorization code a customer reads out to support. Only its HMAC is kept.

    `mismatches` is raised before each comparison and lowered again when the code
    matched, so under any concurrency at most `auth_code_max_mismatches` wrong guesses
    are ever evaluated.
    """

    __tablename__ = "auth_codes"
    __table_args__ = (
        # One active code per account, enforced by the database.
        Index(
            "uq_auth_codes_account_id_active",
            "account_id",
            unique=True,
            postgresql_where=sql("revoked_at IS NULL"),
        ),
        Index("ix_auth_codes_account_id_created_at", "account_id", "created_at"),
        Index("ix_auth_codes_expires_at", "expires_at"),
        CheckConstraint(
            "revoke_reason IN ('replaced', 'revoked', 'locked')", name="revoke_reason_known"
        ),
        CheckConstraint(
            "(revoked_at IS NULL) = (revoke_reason IS NULL)", name="revoked_with_reason"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    code_mac: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoke_reason: Mapped[str | None] = mapped_column(String(16))
    mismatches: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    verifications: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
