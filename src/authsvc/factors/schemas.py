"""Request and response bodies of the second factors."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from authsvc.factors.service import Overview, preferred
from authsvc.web.text import Text

Preferable = Literal["email", "sms", "totp", "passkey"]


class EmailOut(BaseModel):
    address: str
    verified: bool


class PhoneOut(BaseModel):
    number: str
    verified: bool


class TotpOut(BaseModel):
    created_at: datetime
    last_used_at: datetime | None


class RecoveryCodesOut(BaseModel):
    remaining: int
    created_at: datetime


class PasskeyOut(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None
    backed_up: bool = Field(description="Synced to the customer's other devices (a cloud backup).")


class FactorsOut(BaseModel):
    preferred: Preferable
    codes_fallback: bool
    email: EmailOut
    phone: PhoneOut | None
    totp: TotpOut | None
    passkeys: list[PasskeyOut]
    recovery_codes: RecoveryCodesOut | None

    @classmethod
    def of(cls, view: Overview) -> FactorsOut:
        account = view.account
        # Addresses of existing accounts count as verified (changes are confirmed by code).
        return cls(
            preferred=preferred(account),
            codes_fallback=account.codes_fallback,
            email=EmailOut(address=account.email, verified=True),
            phone=PhoneOut(number=account.phone, verified=True) if account.phone else None,
            totp=TotpOut(created_at=view.totp.created_at, last_used_at=view.totp.last_used_at)
            if view.totp
            else None,
            passkeys=[
                PasskeyOut(
                    id=p.id,
                    name=p.name,
                    created_at=p.created_at,
                    last_used_at=p.last_used_at,
                    backed_up=p.backed_up,
                )
                for p in view.passkeys
            ],
            recovery_codes=RecoveryCodesOut(
                remaining=view.recovery.remaining, created_at=view.recovery.created_at
            )
            if view.recovery
            else None,
        )


class TotpEnrollmentOut(BaseModel):
    factor_id: uuid.UUID
    secret: str = Field(description="Base32, for typing into the app; shown once.")
    otpauth_uri: str
    qr_svg: str = Field(description="The otpauth URI as a QR code, an inline SVG document.")
    expires_at: datetime


class ConfirmTotpRequest(BaseModel):
    code: Text = Field(min_length=1, max_length=32, description="The app's current code.")


class ConfirmedOut(BaseModel):
    recovery_codes: list[str] | None = Field(
        default=None,
        description="Issued with the first strong factor: shown once, never again.",
    )


class RecoveryCodesSetOut(BaseModel):
    recovery_codes: list[str] = Field(description="The new set, shown once.")


class PreferredRequest(BaseModel):
    factor: Preferable
    codes_fallback: bool | None = None


PasskeyName = Annotated[Text, Field(min_length=1, max_length=64)]
# PublicKeyCredential.toJSON(): checked by py_webauthn, so any object gets through here
# and a malformed one is refused as invalid_passkey.
CredentialJSON = Annotated[
    dict[str, Any],
    Field(description="The browser's `PublicKeyCredential.toJSON()` (WebAuthn JSON form)."),
]


class PasskeyCreationOptionsOut(BaseModel):
    options: dict[str, Any] = Field(
        description="`PublicKeyCredentialCreationOptionsJSON`, for "
        "`PublicKeyCredential.parseCreationOptionsFromJSON()`; its challenge is good for "
        "5 minutes, once."
    )


class AddPasskeyRequest(BaseModel):
    name: PasskeyName
    credential: CredentialJSON


class PasskeyAddedOut(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime
    backed_up: bool
    recovery_codes: list[str] | None = Field(
        default=None,
        description="Issued with the first strong factor: shown once, never again.",
    )


class RenamePasskeyRequest(BaseModel):
    name: PasskeyName
