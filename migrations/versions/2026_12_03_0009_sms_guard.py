"""SMS pumping guard: hourly SMS budgets, and stored phone numbers checked like new ones

Every stored number is checked as `authsvc accounts create` now checks one (a mobile of a
country in AUTHSVC_SMS_COUNTRIES, read from the environment as the service reads it) and
stored in E.164. A number that fails is moved to `phone_invalid`, where `authsvc accounts
list` shows it with the reason, and its account goes by e-mail.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from authsvc.accounts import phones
from authsvc.config import DEFAULT_SMS_COUNTRIES, parse_countries

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUDGETS = ("service", "country", "prefix", "number", "ip")


def upgrade() -> None:
    op.create_table(
        "sms_budget_counters",
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("budget", sa.String(8), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("allowed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "budget", "subject", name=op.f("pk_sms_budget_counters")),
        *(
            sa.CheckConstraint(
                f"budget <> '{budget}' OR used <= allowed",
                name=op.f(f"ck_sms_budget_counters_{budget}_within"),
            )
            for budget in BUDGETS
        ),
    )
    op.add_column("accounts", sa.Column("phone_invalid", sa.String(16), nullable=True))
    _check_stored_numbers()


def _check_stored_numbers() -> None:
    countries = parse_countries(os.environ.get("AUTHSVC_SMS_COUNTRIES", DEFAULT_SMS_COUNTRIES))
    connection = op.get_bind()
    stored = connection.execute(sa.text("SELECT id, phone FROM accounts WHERE phone IS NOT NULL"))
    normalised, refused = [], []
    for account_id, phone in stored.all():
        found = phones.check(phone, countries)
        if isinstance(found, phones.Textable):
            if found.e164 != phone:
                normalised.append({"id": account_id, "phone": found.e164})
        else:
            refused.append({"id": account_id})
    if normalised:
        connection.execute(sa.text("UPDATE accounts SET phone = :phone WHERE id = :id"), normalised)
    if refused:
        # Off SMS, with the number kept where the operator sees it.
        connection.execute(
            sa.text(
                "UPDATE accounts SET phone_invalid = phone, phone = NULL, channel = 'email' "
                "WHERE id = :id"
            ),
            refused,
        )


def downgrade() -> None:
    # The numbers come back; which accounts were on SMS is not known any more.
    op.execute(
        "UPDATE accounts SET phone = phone_invalid "
        "WHERE phone IS NULL AND phone_invalid IS NOT NULL"
    )
    op.drop_column("accounts", "phone_invalid")
    op.drop_table("sms_budget_counters")
