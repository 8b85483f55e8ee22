"""contact changes: a new e-mail address or phone number waits for the code sent to it;
"this wasn't me" links also for contact and factor changes

The addresses already on accounts count as verified: a change writes them only once its
code is confirmed, so `accounts.email` and `accounts.phone` never hold an unverified one
and need no flag.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "subject_kind IN ('login', 'auth_code')"
NEW_KINDS = "subject_kind IN ('login', 'auth_code', 'contact', 'factor')"


def _ts(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "contact_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("new_value", sa.String(254), nullable=False),
        # What the account had before (NULL: no phone yet), put back by "this wasn't me".
        sa.Column("old_value", sa.String(254), nullable=True),
        # HMAC-SHA256 of the code, bound to the change (core.crypto.Keyring).
        sa.Column("code_hash", sa.LargeBinary(32), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("consumed_at", nullable=True),
        sa.Column("ip", sa.String(45), nullable=False),
        sa.CheckConstraint(
            "kind IN ('email', 'phone')", name=op.f("ck_contact_changes_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_contact_changes_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_changes")),
    )
    op.create_index("ix_contact_changes_account_id", "contact_changes", ["account_id"])
    op.create_index("ix_contact_changes_expires_at", "contact_changes", ["expires_at"])
    op.drop_constraint(op.f("ck_action_links_subject_known"), "action_links", type_="check")
    op.create_check_constraint(op.f("ck_action_links_subject_known"), "action_links", NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM action_links WHERE subject_kind IN ('contact', 'factor')")
    op.drop_constraint(op.f("ck_action_links_subject_known"), "action_links", type_="check")
    op.create_check_constraint(op.f("ck_action_links_subject_known"), "action_links", OLD_KINDS)
    op.drop_table("contact_changes")
