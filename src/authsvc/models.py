"""Every table of the service, for Alembic and the tests."""

from authsvc.accounts.models import Account
from authsvc.core.db import Base
from authsvc.login.models import LoginChallenge
from authsvc.sessions.models import UserSession
from authsvc.throttling.models import ThrottleCounter

metadata = Base.metadata

__all__ = ["Account", "LoginChallenge", "ThrottleCounter", "UserSession", "metadata"]
