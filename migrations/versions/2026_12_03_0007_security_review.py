"""security review: one case folding for logins (ASCII only, whatever the database's
locale), and a credential epoch that device cookies are bound to

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Logins are ASCII (accounts.service.LOGIN_PATTERN); under the "C" collation lower()
    # folds exactly A-Z, as Python's authsvc.accounts.logins.fold does, in any locale
    # (a Turkish one would otherwise fold "I" to a dotless "ı").
    op.drop_index("uq_accounts_login_lower", table_name="accounts")
    op.create_index(
        "uq_accounts_login_lower",
        "accounts",
        [sa.text('lower(login COLLATE "C")')],
        unique=True,
    )
    # Raised by every credential change that must forget the browsers trusted so far
    # (password change and reset, "this wasn't me"); device cookies carry the epoch they
    # were issued in.
    op.add_column(
        "accounts",
        sa.Column("credential_epoch", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_column("accounts", "credential_epoch")
    op.drop_index("uq_accounts_login_lower", table_name="accounts")
    op.create_index("uq_accounts_login_lower", "accounts", [sa.text("lower(login)")], unique=True)
