"""The overdue PENDING orders already reported as incidents (issue 15: several replicas).

Every order_svc replica runs the pending watch. Remembering the reported orders in each
process's memory made every replica (and every restart) report the same stuck order again; a
row here is the one claim: the replica whose insert lands reports it, the others see it taken.
A separate table rather than a column of ``orders``: an update of ``orders`` wakes every watcher
of that order (trigger ``orders_changed``) though nothing about the order changed.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_incidents",
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("pending_incidents")
