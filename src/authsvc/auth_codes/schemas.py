from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from authsvc.web.text import PasswordText


class GenerateRequest(BaseModel):
    # 1024 only keeps argon2's input bounded (as for /login).
    password: PasswordText = Field(min_length=1, max_length=1024)


class NewCodeOut(BaseModel):
    code: str = Field(examples=["042917"], description="Shown once; never retrievable again")
    created_at: datetime
    expires_at: datetime


class CurrentCodeOut(BaseModel):
    """Whether a code is live; never the code itself."""

    active: bool
    created_at: datetime | None = None
    expires_at: datetime | None = None
    verifications: int | None = Field(
        default=None, description="How many times support confirmed this code"
    )
