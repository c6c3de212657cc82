"""ListNotifications for a customer: every customer's listing is filtered to their own rows (issue 12).

Without this index a customer's first page scans the newest notifications of every customer until it
has found a page of theirs.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "notifications_by_customer",
        "notifications",
        ["customer_id", sa.text("create_time DESC"), sa.text("notification_id DESC")],
    )


def downgrade() -> None:
    op.drop_index("notifications_by_customer", table_name="notifications")
