"""Outbox (with parking), inbox and the payments.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mesh.messaging.tables import add_outbox_parking_v2, create_messaging_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_STATUSES = "'AWAITING', 'AUTHORIZING', 'AUTHORIZED', 'FAILED', 'CAPTURING', 'CAPTURED', 'REFUNDING', 'REFUNDED', 'CANCELLED'"


def upgrade() -> None:
    create_messaging_tables_v1(op)
    add_outbox_parking_v2(op)
    op.create_table(
        "payments",
        sa.Column("order_id", sa.Text(), primary_key=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Text(), nullable=False, server_default=""),
        sa.Column("amount_minor", sa.BigInteger()),
        sa.Column("currency", sa.CHAR(3)),
        sa.Column("payment_method", sa.Text()),
        sa.Column("order_problem", sa.Text()),
        sa.Column("reserved", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("cancel_wanted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("ship_wanted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("attempt", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("provider", sa.Text(), nullable=False, server_default=""),
        sa.Column("provider_ref", sa.Text(), nullable=False, server_default=""),
        sa.Column("decline_code", sa.Text(), nullable=False, server_default=""),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("captured", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("tries", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_try_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"status IN ({_STATUSES})", name="payments_status_known"),
        sa.CheckConstraint("amount_minor IS NULL OR amount_minor >= 0", name="payments_amount_not_negative"),
        sa.CheckConstraint("attempt >= 0 AND tries >= 0", name="payments_counts_not_negative"),
    )
    # The reconciler's claim: owed provider steps in due order; the partial index stays small.
    op.create_index(
        "payments_steps_due",
        "payments",
        ["next_try_at"],
        postgresql_where=sa.text("status IN ('AUTHORIZING', 'CAPTURING', 'REFUNDING')"),
    )
    # ListPayments: newest first, keyset on (created_at, order_id), all or one customer's.
    op.create_index("payments_newest", "payments", [sa.text("created_at DESC"), sa.text("order_id DESC")])
    op.create_index(
        "payments_by_customer", "payments", ["customer_id", sa.text("created_at DESC"), sa.text("order_id DESC")]
    )


def downgrade() -> None:
    op.drop_table("payments")
    op.drop_table("inbox")
    op.drop_table("outbox")
    op.execute("DROP FUNCTION IF EXISTS oms_notify_outbox()")
