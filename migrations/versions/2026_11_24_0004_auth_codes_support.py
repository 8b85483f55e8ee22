"""auth codes support

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RESULTS = (
    "valid",
    "mismatch",
    "expired",
    "no_active_code",
    "locked",
    "insufficient_scope",
    "rate_limited",
)


def upgrade() -> None:
    op.create_table(
        "support_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("key_digest", sa.LargeBinary(32), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_support_keys"),
        sa.UniqueConstraint("name", name="uq_support_keys_name"),
        sa.UniqueConstraint("key_digest", name="uq_support_keys_key_digest"),
    )

    op.create_table(
        "auth_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("code_mac", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(16), nullable=True),
        sa.Column("mismatches", sa.Integer(), server_default="0", nullable=False),
        sa.Column("verifications", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_auth_codes"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_auth_codes_account_id_accounts",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "revoke_reason IN ('replaced', 'revoked', 'locked')",
            name="ck_auth_codes_revoke_reason_known",
        ),
        sa.CheckConstraint(
            "(revoked_at IS NULL) = (revoke_reason IS NULL)",
            name="ck_auth_codes_revoked_with_reason",
        ),
    )
    # One active code per account; also the index the verify UPDATE uses.
    op.create_index(
        "uq_auth_codes_account_id_active",
        "auth_codes",
        ["account_id"],
        unique=True,
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    # The latest code of an account (why a verification failed), and the FK's index.
    op.create_index(
        "ix_auth_codes_account_id_created_at", "auth_codes", ["account_id", "created_at"]
    )
    op.create_index("ix_auth_codes_expires_at", "auth_codes", ["expires_at"])  # purge

    op.create_table(
        "auth_code_verifications",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("support_key_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("auth_code_id", sa.Uuid(), nullable=True),
        sa.Column("result", sa.String(24), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=True),
        sa.Column("client_ip", sa.String(45), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_auth_code_verifications"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_auth_code_verifications_account_id_accounts",
            ondelete="SET NULL",
        ),
        sa.CheckConstraint(
            "result IN (" + ", ".join(f"'{r}'" for r in RESULTS) + ")",
            name="ck_auth_code_verifications_result_known",
        ),
    )
    # The customer's history, newest first.
    op.create_index(
        "ix_auth_code_verifications_account_id_verified_at",
        "auth_code_verifications",
        ["account_id", "verified_at"],
    )
    op.create_index(  # purge
        "ix_auth_code_verifications_verified_at", "auth_code_verifications", ["verified_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_auth_code_verifications_verified_at", table_name="auth_code_verifications")
    op.drop_index(
        "ix_auth_code_verifications_account_id_verified_at", table_name="auth_code_verifications"
    )
    op.drop_table("auth_code_verifications")
    op.drop_index("ix_auth_codes_expires_at", table_name="auth_codes")
    op.drop_index("ix_auth_codes_account_id_created_at", table_name="auth_codes")
    op.drop_index("uq_auth_codes_account_id_active", table_name="auth_codes")
    op.drop_table("auth_codes")
    op.drop_table("support_keys")
