"""account protection: "this wasn't me" links, password resets, security events, the
forced password reset, and the addresses behind a login's failures

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _account_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["account_id"],
        ["accounts.id"],
        name=op.f(f"fk_{table}_account_id_accounts"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.add_column(
        "accounts",
        sa.Column("password_reset_required", sa.Boolean(), nullable=False, server_default="false"),
    )
    op.add_column("throttle_counters", sa.Column("ips", postgresql.ARRAY(sa.Text())))

    op.create_table(
        "action_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("subject_kind", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("used_at", nullable=True),
        sa.CheckConstraint(
            "subject_kind IN ('login', 'auth_code')", name=op.f("ck_action_links_subject_known")
        ),
        _account_fk("action_links"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_action_links_token_hash")),
    )
    op.create_index("ix_action_links_account_id", "action_links", ["account_id"])
    op.create_index("ix_action_links_expires_at", "action_links", ["expires_at"])

    op.create_table(
        "password_resets",
        sa.Column("id", sa.Uuid(), nullable=False),
        # NULL for a login that does not exist: the row is written all the same, so the
        # answers (and the attempts they count) cannot tell the cases apart.
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("code_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        _ts("created_at"),
        _ts("last_sent_at"),
        _ts("expires_at"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("resends", sa.Integer(), nullable=False),
        _ts("consumed_at", nullable=True),
        sa.Column("ip", sa.String(45), nullable=False),
        _account_fk("password_resets"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_resets")),
    )
    op.create_index("ix_password_resets_account_id", "password_resets", ["account_id"])
    op.create_index("ix_password_resets_expires_at", "password_resets", ["expires_at"])

    op.create_table(
        "security_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        _ts("created_at"),
        sa.Column("ip", sa.String(45), nullable=False),
        sa.Column("user_agent", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        _account_fk("security_events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_events")),
    )
    op.create_index(
        "ix_security_events_account_id_created_at",
        "security_events",
        ["account_id", "created_at"],
    )
    op.create_index("ix_security_events_created_at", "security_events", ["created_at"])


def downgrade() -> None:
    op.drop_table("security_events")
    op.drop_table("password_resets")
    op.drop_table("action_links")
    op.drop_column("throttle_counters", "ips")
    op.drop_column("accounts", "password_reset_required")
