"""Outbox, inbox and the notification log.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mesh.messaging.tables import create_messaging_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables_v1(op)
    op.create_table(
        "notifications",
        sa.Column("notification_id", sa.Uuid(), primary_key=True),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False, server_default=""),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_time", sa.DateTime(timezone=True)),
        # One notification per event and channel, however often the event is delivered.
        sa.UniqueConstraint("event_id", "channel", name="notifications_one_per_event_and_channel"),
        sa.CheckConstraint("status IN ('PENDING', 'SENT', 'FAILED')", name="notifications_status_known"),
        sa.CheckConstraint("attempts >= 0", name="notifications_attempts_not_negative"),
        sa.CheckConstraint("(status = 'SENT') = (sent_time IS NOT NULL)", name="notifications_sent_time_iff_sent"),
    )
    # The dispatcher's claim: due PENDING rows in due order; the partial index stays small.
    op.create_index(
        "notifications_due",
        "notifications",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'PENDING'"),
    )
    # ListNotifications: newest first, keyset on (create_time, notification_id), optionally per order/status.
    op.create_index("notifications_newest", "notifications", [sa.text("create_time DESC"), sa.text("notification_id DESC")])
    op.create_index(
        "notifications_by_order",
        "notifications",
        ["order_id", sa.text("create_time DESC"), sa.text("notification_id DESC")],
    )
    op.create_index(
        "notifications_by_status",
        "notifications",
        ["status", sa.text("create_time DESC"), sa.text("notification_id DESC")],
    )


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("inbox")
    op.drop_table("outbox")
    op.execute("DROP FUNCTION IF EXISTS oms_notify_outbox()")
