"""Every table of the service, for Alembic and the tests."""

from authsvc.accounts.models import Account
from authsvc.core.db import Base

metadata = Base.metadata

__all__ = ["Account", "metadata"]
