"""Webhook endpoints and their deliveries (issue 19).

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
        "webhook_endpoints",
        sa.Column("endpoint_id", sa.Uuid(), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("delivery_id", sa.Uuid(), primary_key=True),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
        sa.Column("last_http_status", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_time", sa.DateTime(timezone=True)),
        # One delivery per event and endpoint, however often the event is consumed.
        sa.UniqueConstraint("event_id", "endpoint_id", name="webhook_deliveries_one_per_event_and_endpoint"),
        sa.CheckConstraint("status IN ('PENDING', 'DELIVERED', 'FAILED')", name="webhook_deliveries_status_known"),
        sa.CheckConstraint("attempts >= 0", name="webhook_deliveries_attempts_not_negative"),
        sa.CheckConstraint(
            "(status = 'DELIVERED') = (delivered_time IS NOT NULL)", name="webhook_deliveries_delivered_time_iff_delivered"
        ),
    )
    # The dispatcher's claim: due PENDING rows in due order.
    op.create_index(
        "webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'PENDING'"),
    )
    op.create_index(
        "webhook_deliveries_newest",
        "webhook_deliveries",
        [sa.text("create_time DESC"), sa.text("delivery_id DESC")],
    )
    op.create_index(
        "webhook_deliveries_by_endpoint",
        "webhook_deliveries",
        ["endpoint_id", sa.text("create_time DESC"), sa.text("delivery_id DESC")],
    )
    op.create_index(
        "webhook_deliveries_by_order",
        "webhook_deliveries",
        ["order_id", sa.text("create_time DESC"), sa.text("delivery_id DESC")],
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
