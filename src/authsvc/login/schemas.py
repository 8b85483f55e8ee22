from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from authsvc.factors.strategy import Proof
from authsvc.web.text import PasswordText, Text


class LoginRequest(BaseModel):
    login: Text = Field(min_length=1, max_length=254)
    # No upper limit below the policy's maximum; 1024 only keeps argon2's input bounded.
    password: PasswordText = Field(min_length=1, max_length=1024)


Factor = Literal["email", "sms", "totp", "recovery_code"]


# The bounds on the text itself: on the optional field they would meet a null too.
TypedCode = Annotated[Text, Field(min_length=1, max_length=32)]
TypedRecoveryCode = Annotated[Text, Field(min_length=1, max_length=64)]


def _one_proof_schema(schema: dict[str, Any]) -> None:
    """The document says what the validator checks: exactly one of the proofs, each a
    string (null is only how an absent one is held)."""
    for name in ("code", "recovery_code"):
        field = schema["properties"][name]
        text = next(part for part in field.pop("anyOf") if part.get("type") != "null")
        field.update(text)
        field.pop("default", None)
    schema["oneOf"] = [{"required": ["code"]}, {"required": ["recovery_code"]}]


class VerifyRequest(BaseModel):
    """Exactly one proof: a code (sent by e-mail or SMS, or shown by the authenticator
    app) or a recovery code, when the challenge accepts them (`factors`)."""

    model_config = ConfigDict(json_schema_extra=_one_proof_schema)

    challenge_id: uuid.UUID
    code: TypedCode | None = Field(
        default=None,
        description="The code as typed: `042917`, `042 917` or `042-917`. "
        "Anything else is a wrong attempt (and counts as one).",
    )
    recovery_code: TypedRecoveryCode | None = Field(
        default=None,
        description="A recovery code as typed: any case, dashes and spaces ignored. "
        "Anything else is a wrong attempt (and counts as one).",
    )

    @model_validator(mode="after")
    def _one_proof(self) -> Self:
        if (self.code is None) == (self.recovery_code is None):
            raise ValueError("give exactly one of code and recovery_code")
        return self

    def proof(self) -> Proof:
        return Proof(code=self.code, recovery_code=self.recovery_code)


class ResendRequest(BaseModel):
    challenge_id: uuid.UUID
    channel: Literal["email", "sms"] | None = None


class ChallengeOut(BaseModel):
    challenge_id: uuid.UUID
    factor: Factor = Field(
        description="The second step asked for now; for `totp` nothing was sent."
    )
    factors: list[Factor] = Field(description="Every second step this challenge accepts.")
    channel: Literal["email", "sms"] = Field(
        description="Where a code goes: sent now when `factor` is a code, else on a resend "
        "(when the challenge accepts codes)."
    )
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


class ReauthenticateRequest(BaseModel):
    password: PasswordText = Field(min_length=1, max_length=1024)


class ReauthenticatedOut(BaseModel):
    reauthenticated_until: datetime
