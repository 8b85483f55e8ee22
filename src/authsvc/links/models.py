from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from authsvc.core.db import Base

SUBJECT_KINDS = ("login", "auth_code", "contact", "factor")


class ActionLink(Base):
    """A "this wasn't me" link of one e-mail: single use, stored as a keyed hash.

    Bound to what the e-mail reported: a login (the session it started), an
    authorization code, a contact change or a change of the second factors.
    """

    __tablename__ = "action_links"
    __table_args__ = (
        Index("ix_action_links_account_id", "account_id"),
        Index("ix_action_links_expires_at", "expires_at"),
        CheckConstraint(
            "subject_kind IN ('login', 'auth_code', 'contact', 'factor')", name="subject_known"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
