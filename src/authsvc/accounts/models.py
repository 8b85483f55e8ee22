from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, Index, Integer, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from authsvc.core.db import Base


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        # Logins are unique regardless of (ASCII) case; lookups use this expression and
        # this index (accounts.repository.login_matches).
        Index("uq_accounts_login_lower", func.lower(text('login COLLATE "C"')), unique=True),
        CheckConstraint("channel IN ('email', 'sms')", name="channel_known"),
        CheckConstraint("channel <> 'sms' OR phone IS NOT NULL", name="sms_needs_phone"),
        CheckConstraint("locale IN ('pl', 'en')", name="locale_known"),
        CheckConstraint(
            "preferred_factor IN ('email', 'sms', 'totp', 'passkey')",
            name="preferred_factor_known",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    login: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(Text)
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(16))
    # A stored number that codes cannot be texted to (migration 0009: not a mobile, or of
    # a country outside AUTHSVC_SMS_COUNTRIES): kept here for the operator to see, while
    # `phone` is cleared and the account goes by e-mail.
    phone_invalid: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(8), default="email")
    locale: Mapped[str] = mapped_column(String(2), default="pl")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Set by "this wasn't me": no login finishes until a password reset clears it.
    password_reset_required: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default="false"
    )
    # Raised when the password changes or is reset, or on "this wasn't me": device
    # cookies issued before it stop counting as the customer's browser.
    credential_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The second step the customer chose; NULL: never chose, the code channel. Confirming
    # a strong factor sets it, so a login looks for strong factors only when it is set.
    preferred_factor: Mapped[str | None] = mapped_column(String(16))
    # With a strong factor: whether e-mail and SMS codes still finish a login.
    codes_fallback: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
