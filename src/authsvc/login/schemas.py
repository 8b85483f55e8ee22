from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from authsvc.web.text import PasswordText, Text


class LoginRequest(BaseModel):
    login: Text = Field(min_length=1, max_length=254)
    # No upper limit below the policy's maximum; 1024 only keeps argon2's input bounded.
    password: PasswordText = Field(min_length=1, max_length=1024)


class VerifyCodeRequest(BaseModel):
    challenge_id: uuid.UUID
    code: Text = Field(
        min_length=1,
        max_length=32,
        description="The code as typed: `042917`, `042 917` or `042-917`. "
        "Anything else is a wrong attempt (and counts as one).",
    )


class ResendRequest(BaseModel):
    challenge_id: uuid.UUID
    channel: Literal["email", "sms"] | None = None


class ChallengeOut(BaseModel):
    challenge_id: uuid.UUID
    channel: Literal["email", "sms"]
    destination: str = Field(examples=["j***@example.com", "+48 *** *** 789"])
    expires_at: datetime
    resend_after: datetime
    sms_unavailable: Literal["limited", "number_not_accepted"] | None = Field(
        default=None,
        description="Present when the code was meant for SMS but went by e-mail "
        "(`channel` is then `email`): `limited`, an SMS budget of the hour is spent "
        "(per number, number prefix, country, client address or service-wide); "
        "`number_not_accepted`, the account's number is no longer one codes are texted to.",
    )


class ChallengeStatusOut(BaseModel):
    channel: Literal["email", "sms"]
    destination: str
    expires_at: datetime
    resend_after: datetime
    attempts_left: int
    delivery: Literal["queued", "sent", "failed"]
