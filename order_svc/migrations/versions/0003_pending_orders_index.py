"""An index of PENDING orders by age, for the stuck-order watch (issue 12).

order_svc reads its oldest PENDING orders every few seconds (the
``oms_order_oldest_pending_age_seconds`` gauge and the incident log); without this index that
read walks every order ever placed, oldest first, until it finds a PENDING one.

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
        "orders_pending_by_age", "orders", ["created_at", "order_id"], postgresql_where=sa.text("status = 'PENDING'")
    )


def downgrade() -> None:
    op.drop_index("orders_pending_by_age", table_name="orders")
