"""accounts

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("phone", sa.String(16), nullable=True),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("locale", sa.String(2), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("channel IN ('email', 'sms')", name=op.f("ck_accounts_channel_known")),
        sa.CheckConstraint(
            "channel <> 'sms' OR phone IS NOT NULL", name=op.f("ck_accounts_sms_needs_phone")
        ),
        sa.CheckConstraint("locale IN ('pl', 'en')", name=op.f("ck_accounts_locale_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
    )
    op.create_index("uq_accounts_login_lower", "accounts", [sa.text("lower(login)")], unique=True)


def downgrade() -> None:
    op.drop_index("uq_accounts_login_lower", table_name="accounts")
    op.drop_table("accounts")
