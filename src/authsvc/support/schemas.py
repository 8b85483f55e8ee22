from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from authsvc.web.text import Text


class SupportVerifyRequest(BaseModel):
    customer: Text = Field(
        min_length=1, max_length=254, description="The customer's login (any case) or account id"
    )
    code: Text = Field(
        min_length=1,
        max_length=32,
        description="What the customer read out: `042917`, `042 917` or `042-917`. "
        "Anything else is a mismatch (and counts as one).",
    )
    purpose: Text | None = Field(
        default=None, max_length=200, description="Why support checks, e.g. a ticket number"
    )


class VerifiedAccount(BaseModel):
    id: uuid.UUID
    login: str


class SupportVerifyOut(BaseModel):
    valid: bool
    reason: Literal["mismatch", "expired", "no_active_code", "locked"] | None = Field(
        default=None, description="Why the code is not valid (only when valid is false)"
    )
    account: VerifiedAccount | None = Field(default=None, description="Only when valid")
    expires_at: datetime | None = Field(default=None, description="Only when valid")


class HistoryEntryOut(BaseModel):
    verified_at: datetime
    result: str = Field(
        examples=["valid"],
        description="valid, mismatch, expired, no_active_code, locked, "
        "or a refusal of the support tool (insufficient_scope, rate_limited)",
    )
    purpose: str | None
    support_client: str = Field(description="Name of the support tool's API key")
