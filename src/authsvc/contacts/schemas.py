"""Request and response bodies of contact changes."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from authsvc.web.text import Text


class EmailChangeRequest(BaseModel):
    email: Text = Field(min_length=1, max_length=254, description="The new e-mail address.")


class PhoneChangeRequest(BaseModel):
    phone: Text = Field(
        min_length=1,
        max_length=64,
        description="The new mobile number in international form, e.g. +48 601 234 567.",
    )


class ChangeOut(BaseModel):
    change_id: uuid.UUID
    expires_at: datetime


class ConfirmChangeRequest(BaseModel):
    change_id: uuid.UUID
    code: Text = Field(min_length=1, max_length=32, description="The code sent to the new address.")
