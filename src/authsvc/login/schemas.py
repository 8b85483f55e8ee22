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


Factor = Literal["email", "sms", "totp", "passkey", "recovery_code"]


# The bounds on the text itself: on the optional field they would meet a null too.
TypedCode = Annotated[Text, Field(min_length=1, max_length=32)]
TypedRecoveryCode = Annotated[Text, Field(min_length=1, max_length=64)]


# PublicKeyCredential.toJSON(): checked by py_webauthn, so any object gets through here
# and a malformed one is refused as invalid_passkey (or a wrong attempt).
CredentialJSON = Annotated[
    dict[str, Any],
    Field(description="The browser's `PublicKeyCredential.toJSON()` (WebAuthn JSON form)."),
]


def _one_of(*names: str) -> Any:
    """The document says what the validator checks: exactly one of `names`, each of its
    type (null is only how an absent one is held)."""

    def edit(schema: dict[str, Any]) -> None:
        for name in names:
            field = schema["properties"][name]
            given = next(part for part in field.pop("anyOf") if part.get("type") != "null")
            field.update(given)
            field.pop("default", None)
        schema["oneOf"] = [{"required": [name]} for name in names]

    return edit


_one_proof_schema = _one_of("code", "recovery_code", "passkey")


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
    passkey: CredentialJSON | None = Field(
        default=None,
        description="The assertion for the challenge's `passkey_options`; one that does "
        "not verify is a wrong attempt (and counts as one).",
    )

    @model_validator(mode="after")
    def _one_proof(self) -> Self:
        given = [p for p in (self.code, self.recovery_code, self.passkey) if p is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of code, recovery_code and passkey")
        return self

    def proof(self) -> Proof:
        return Proof(code=self.code, recovery_code=self.recovery_code, passkey=self.passkey)


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
    passkey_options: dict[str, Any] | None = Field(
        default=None,
        description="When `factors` has `passkey`: `PublicKeyCredentialRequestOptionsJSON` "
        "(the account's passkeys allowed) for `navigator.credentials.get()`; its challenge "
        "is good for 5 minutes, once.",
    )


class ChallengeStatusOut(BaseModel):
    channel: Literal["email", "sms"]
    destination: str
    expires_at: datetime
    resend_after: datetime
    attempts_left: int
    delivery: Literal["queued", "sent", "failed"]


class ReauthenticateRequest(BaseModel):
    """Exactly one: the password, or a passkey assertion (with user verification) for
    the options of `POST /session/reauthenticate/options`."""

    model_config = ConfigDict(json_schema_extra=_one_of("password", "passkey"))

    password: Annotated[PasswordText, Field(min_length=1, max_length=1024)] | None = None
    passkey: CredentialJSON | None = None

    @model_validator(mode="after")
    def _one_proof(self) -> Self:
        if (self.password is None) == (self.passkey is None):
            raise ValueError("give exactly one of password and passkey")
        return self


class PasskeyRequestOptionsOut(BaseModel):
    options: dict[str, Any] = Field(
        description="`PublicKeyCredentialRequestOptionsJSON` for "
        "`navigator.credentials.get()`; its challenge is good for 5 minutes, once."
    )


class PasskeyFlowOut(PasskeyRequestOptionsOut):
    flow_id: uuid.UUID


class PasskeySignInRequest(BaseModel):
    flow_id: uuid.UUID
    credential: CredentialJSON


class ReauthenticatedOut(BaseModel):
    reauthenticated_until: datetime
