"""Orders, items, customers, catalog replica, idempotency keys, outbox and inbox.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from mesh.messaging.tables import create_messaging_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATUSES = "('PENDING','CONFIRMED','REJECTED','PAID','SHIPPED','DELIVERED','CANCELLED')"


def upgrade() -> None:
    now = sa.text("now()")
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("phone", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
    )
    op.create_table(
        "orders",
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("customer_id", sa.Text, sa.ForeignKey("customers.customer_id"), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("status_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total_minor", sa.BigInteger, nullable=False),
        sa.Column("shortfalls", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("version", sa.BigInteger, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        # When the order became CONFIRMED: the unpaid-reservation sweeper measures from here.
        sa.Column("confirmed_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(f"status IN {STATUSES}", name="orders_status_known"),
    )
    op.create_index("orders_by_created", "orders", [sa.text("created_at DESC"), sa.text("order_id DESC")])
    op.create_index("orders_by_customer", "orders", ["customer_id", sa.text("created_at DESC")])
    op.create_index("orders_confirmed_unpaid", "orders", ["confirmed_at"], postgresql_where=sa.text("status = 'CONFIRMED'"))
    op.create_table(
        "order_items",
        sa.Column("order_id", sa.Text, sa.ForeignKey("orders.order_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("line_no", sa.Integer, primary_key=True),
        sa.Column("product_id", sa.Text, nullable=False),
        sa.Column("product_name", sa.Text, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("unit_price_minor", sa.BigInteger, nullable=False),
        sa.CheckConstraint("quantity BETWEEN 1 AND 1000", name="order_items_quantity_range"),
        sa.UniqueConstraint("order_id", "product_id", name="order_items_one_line_per_product"),
    )
    op.create_table(
        "catalog",
        sa.Column("product_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("price_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("principal", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("request_hash", sa.Text, nullable=False),
        sa.Column("order_id", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
    )
    # Watchers in every instance learn of a change the moment it commits.
    op.execute(
        """
        CREATE FUNCTION oms_notify_order_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('oms_order_changed', NEW.order_id); RETURN NULL; END $$;
        """
    )
    op.execute(
        "CREATE TRIGGER orders_changed AFTER UPDATE ON orders "
        "FOR EACH ROW EXECUTE FUNCTION oms_notify_order_changed()"
    )
    create_messaging_tables_v1(op)


def downgrade() -> None:
    raise NotImplementedError("the first migration is not reversible")
