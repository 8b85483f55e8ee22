from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from authsvc.web.text import PasswordText, Text

# 1024 only keeps argon2's input bounded; the policy's own maximum is checked after.
Password = PasswordText
POLICY_NOTE = (
    "Checked against the password policy, else `422 weak_password`: by default 8 to 128 "
    "characters (AUTHSVC_PASSWORD_MIN_LENGTH, _MAX_LENGTH), not a commonly used password, "
    "not the login."
)


class ChangePasswordRequest(BaseModel):
    password: Password = Field(min_length=1, max_length=1024, description="The current one")
    new_password: Password = Field(min_length=1, max_length=1024, description=POLICY_NOTE)


class ResetRequest(BaseModel):
    login: Text = Field(min_length=1, max_length=254)


class ResetResendRequest(BaseModel):
    reset_id: uuid.UUID


class ResetConfirmRequest(BaseModel):
    reset_id: uuid.UUID
    code: Text = Field(
        min_length=1,
        max_length=32,
        description="The code as typed: `042917`, `042 917` or `042-917`.",
    )
    new_password: Password = Field(min_length=1, max_length=1024, description=POLICY_NOTE)


class ResetOut(BaseModel):
    """The same for every login, existing or not: nothing here tells them apart."""

    reset_id: uuid.UUID
    expires_at: datetime
    resend_after: datetime
