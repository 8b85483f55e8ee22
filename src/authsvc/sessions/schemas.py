"""What a signed-in client is told about its account and session."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from authsvc.accounts.models import Account
from authsvc.sessions.models import UserSession


class AccountOut(BaseModel):
    id: uuid.UUID
    login: str
    email: str
    channel: Literal["email", "sms"]
    locale: Literal["pl", "en"]


class SessionOut(BaseModel):
    expires_at: datetime
    idle_expires_at: datetime


class SignedInOut(BaseModel):
    account: AccountOut
    session: SessionOut

    @classmethod
    def of(cls, account: Account, session: UserSession) -> SignedInOut:
        return cls(
            account=AccountOut.model_validate(account, from_attributes=True),
            session=SessionOut(
                expires_at=session.expires_at, idle_expires_at=session.idle_expires_at
            ),
        )


class SessionInfoOut(BaseModel):
    """One live session, as the customer's session list shows it."""

    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    ip: str
    device: str  # from the user agent, e.g. "Firefox 120 on Windows"
    current: bool  # the session this request was made with
