"""outbox: index of failed queued messages (a recipient's messages leave in order)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Partial: only failed messages still queued, so it stays tiny outside an outage.
    op.create_index(
        "ix_outbox_messages_failing",
        "outbox_messages",
        ["channel", "recipient", "send_after"],
        postgresql_where=sa.text("state = 'queued' AND last_error IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_messages_failing", table_name="outbox_messages")
