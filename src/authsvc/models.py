"""Every table of the service, for Alembic and the tests."""

from authsvc.accounts.models import Account
from authsvc.auth_codes.models import AuthCode
from authsvc.contacts.models import ContactChange
from authsvc.core.db import Base
from authsvc.delivery.models import OutboxMessage
from authsvc.factors.models import PasskeyChallenge, PasskeyCredential, RecoveryCode, TotpFactor
from authsvc.links.models import ActionLink
from authsvc.login.models import LoginChallenge
from authsvc.protection.models import PasswordReset, SecurityEvent
from authsvc.sessions.models import UserSession
from authsvc.sms_guard.models import SmsBudgetCounter
from authsvc.support.models import SupportKey, Verification
from authsvc.throttling.models import ThrottleCounter

metadata = Base.metadata

__all__ = [
    "Account",
    "ActionLink",
    "AuthCode",
    "ContactChange",
    "LoginChallenge",
    "OutboxMessage",
    "PasskeyChallenge",
    "PasskeyCredential",
    "PasswordReset",
    "RecoveryCode",
    "SecurityEvent",
    "SmsBudgetCounter",
    "SupportKey",
    "ThrottleCounter",
    "TotpFactor",
    "UserSession",
    "Verification",
    "metadata",
]
