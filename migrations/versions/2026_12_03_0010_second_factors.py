"""second factors: the authenticator app (TOTP, its secret sealed), recovery codes (keyed
hashes), the account's preferred factor and code fallback, the factors a login challenge
accepts, and the session's re-authentication time

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
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
    # NULL: the account never chose; its second step is its code channel. Confirming a
    # strong factor sets it, so a login needs to look for strong factors only when set.
    op.add_column("accounts", sa.Column("preferred_factor", sa.String(16), nullable=True))
    op.add_column(
        "accounts",
        sa.Column("codes_fallback", sa.Boolean(), nullable=False, server_default="false"),
    )
    op.create_check_constraint(
        "preferred_factor_known",
        "accounts",
        "preferred_factor IN ('email', 'sms', 'totp', 'passkey')",
    )
    op.add_column("sessions", _ts("reauthenticated_at", nullable=True))

    # What a challenge asked for and what it accepts; rows of earlier releases asked for
    # a code on their channel. No message for a factor that sends nothing (the app).
    op.add_column(
        "login_challenges",
        sa.Column("factor", sa.String(16), nullable=False, server_default="email"),
    )
    op.add_column(
        "login_challenges",
        sa.Column(
            "factors",
            postgresql.ARRAY(sa.String(16)),
            nullable=False,
            server_default=sa.text("'{}'::varchar[]"),
        ),
    )
    op.execute("UPDATE login_challenges SET factor = channel, factors = ARRAY[channel]")
    op.alter_column("login_challenges", "factor", server_default=None)
    op.alter_column("login_challenges", "factors", server_default=None)
    op.alter_column("login_challenges", "message_id", nullable=True)

    op.create_table(
        "totp_factors",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        # AES-GCM under a key derived from AUTHSVC_SECRET_KEY (factors.sealing): never
        # the base32 secret itself.
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("confirmed_at", nullable=True),
        # The last RFC 6238 time step accepted: a step at or below it never is again.
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        _ts("last_used_at", nullable=True),
        _account_fk("totp_factors"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_totp_factors")),
        sa.UniqueConstraint("account_id", name=op.f("uq_totp_factors_account_id")),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(32), nullable=False),
        _ts("created_at"),
        _ts("used_at", nullable=True),
        _account_fk("recovery_codes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
        sa.UniqueConstraint(
            "account_id", "code_hash", name=op.f("uq_recovery_codes_account_id_code_hash")
        ),
    )


def downgrade() -> None:
    op.drop_table("recovery_codes")
    op.drop_table("totp_factors")
    op.execute("DELETE FROM login_challenges WHERE message_id IS NULL")
    op.alter_column("login_challenges", "message_id", nullable=False)
    op.drop_column("login_challenges", "factors")
    op.drop_column("login_challenges", "factor")
    op.drop_column("sessions", "reauthenticated_at")
    op.drop_constraint(op.f("ck_accounts_preferred_factor_known"), "accounts", type_="check")
    op.drop_column("accounts", "codes_fallback")
    op.drop_column("accounts", "preferred_factor")
