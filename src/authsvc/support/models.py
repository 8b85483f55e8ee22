from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    LargeBinary,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from authsvc.core.db import Base

VERIFICATION_RESULTS = (
    "valid",
    "mismatch",
    "expired",
    "no_active_code",
    "locked",
    "insufficient_scope",
    "rate_limited",
    "invalid_request",  # an admitted call whose body was refused (migration 0010)
)


class SupportKey(Base):
    """An API key of a support tool. Only a SHA-256 of the key is stored."""

    __tablename__ = "support_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Verification(Base):
    """The audit trail: one row per call of POST /auth-codes/verify by a known key.

    Kept for `retention_audit`, much longer than the codes themselves, so the code id
    is a plain column rather than a foreign key. The key is never deleted (only
    revoked); no foreign key to it, so concurrent inserts do not all lock its row.
    """

    __tablename__ = "auth_code_verifications"
    __table_args__ = (
        Index("ix_auth_code_verifications_account_id_verified_at", "account_id", "verified_at"),
        Index("ix_auth_code_verifications_verified_at", "verified_at"),
        CheckConstraint(
            "result IN (" + ", ".join(f"'{r}'" for r in VERIFICATION_RESULTS) + ")",
            name="result_known",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    verified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    support_key_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    auth_code_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    result: Mapped[str] = mapped_column(String(24))
    purpose: Mapped[str | None] = mapped_column(String(200))
    client_ip: Mapped[str] = mapped_column(String(45))
