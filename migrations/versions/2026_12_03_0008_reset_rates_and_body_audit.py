"""security review (low findings): password-reset resends count against the typed login's
reset rate, and support calls refused for their body are audited

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = (
    "valid",
    "mismatch",
    "expired",
    "no_active_code",
    "locked",
    "insufficient_scope",
    "rate_limited",
)
AFTER = (*BEFORE, "invalid_request")
# 0004 named the check through the naming convention twice (then cut to 63 characters);
# from here on it has the name the model gives it.
OLD_CHECK = "ck_auth_code_verifications_ck_auth_code_verifications_r_00d9"
CHECK = "ck_auth_code_verifications_result_known"


def _check(results: Sequence[str]) -> str:
    return "result IN (" + ", ".join(f"'{r}'" for r in results) + ")"


def upgrade() -> None:
    # The counter a reset request counted against, for the typed login (known or not):
    # its resends count there too. NULL on resets opened before this revision.
    op.add_column("password_resets", sa.Column("rate_key", sa.Text(), nullable=True))
    op.drop_constraint(op.f(OLD_CHECK), "auth_code_verifications", type_="check")
    op.create_check_constraint(op.f(CHECK), "auth_code_verifications", _check(AFTER))


def downgrade() -> None:
    # The older schema has no word for these (they name no customer, so no history
    # loses an entry).
    op.execute("DELETE FROM auth_code_verifications WHERE result = 'invalid_request'")
    op.drop_constraint(op.f(CHECK), "auth_code_verifications", type_="check")
    op.create_check_constraint(op.f(OLD_CHECK), "auth_code_verifications", _check(BEFORE))
    op.drop_column("password_resets", "rate_key")
