"""Catalog, stock, reservations, and the outbox/inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from mesh.messaging.tables import create_messaging_tables_v1

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("product_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("price_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint("price_minor >= 0", name="products_price_not_negative"),
    )
    op.create_table(
        "stock",
        sa.Column(
            "product_id",
            sa.Text,
            sa.ForeignKey("products.product_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("quantity", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("reserved", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        # The database, not only the code, guarantees no oversell: a bug or a manual UPDATE that
        # would reserve more than is on hand fails here instead of promising stock twice.
        sa.CheckConstraint("quantity >= 0", name="stock_quantity_not_negative"),
        sa.CheckConstraint("reserved >= 0", name="stock_reserved_not_negative"),
        sa.CheckConstraint("quantity - reserved >= 0", name="stock_available_not_negative"),
    )
    op.create_table(
        "reservations",
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint("status IN ('RESERVED', 'RELEASED', 'SHIPPED')", name="reservations_status_known"),
    )
    # Items keep the product id as plain text (no foreign key to products): a reservation is the
    # history of an order and outlives a later deletion of the product.
    op.create_table(
        "reservation_items",
        sa.Column(
            "order_id",
            sa.Text,
            sa.ForeignKey("reservations.order_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("product_id", sa.Text, primary_key=True),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.CheckConstraint("quantity > 0", name="reservation_items_quantity_positive"),
    )
    op.create_index("reservation_items_product", "reservation_items", ["product_id"])
    op.create_index(
        "reservations_open", "reservations", ["order_id"], postgresql_where=sa.text("status = 'RESERVED'")
    )
    # Orders that could not be reserved: answers a repeated OrderPlaced for the same order.
    op.create_table(
        "reservation_failures",
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("shortfalls", JSONB, nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    create_messaging_tables_v1(op)


def downgrade() -> None:
    raise NotImplementedError("the first migration is not reversible; drop the database instead")
