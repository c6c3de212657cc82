"""SQLAlchemy Core view of the order database (the schema itself comes from migrations)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("customer_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("email", sa.Text),
    sa.Column("phone", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("customer_id", sa.Text),
    sa.Column("status", sa.Text),
    sa.Column("status_reason", sa.Text),
    sa.Column("currency", sa.String(3)),
    sa.Column("total_minor", sa.BigInteger),
    sa.Column("shortfalls", JSONB),
    sa.Column("version", sa.BigInteger),
    sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
    sa.Column("confirmed_at", sa.DateTime(timezone=True)),
)

# Overdue PENDING orders already reported, one row per incident (service_layer.pending).
pending_incidents = sa.Table(
    "pending_incidents",
    metadata,
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("reported_at", sa.DateTime(timezone=True)),
)

order_items = sa.Table(
    "order_items",
    metadata,
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("line_no", sa.Integer, primary_key=True),
    sa.Column("product_id", sa.Text),
    sa.Column("product_name", sa.Text),
    sa.Column("quantity", sa.Integer),
    sa.Column("unit_price_minor", sa.BigInteger),
)

catalog = sa.Table(
    "catalog",
    metadata,
    sa.Column("product_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("price_minor", sa.BigInteger),
    sa.Column("currency", sa.String(3)),
    sa.Column("active", sa.Boolean),
    sa.Column("fetched_at", sa.DateTime(timezone=True)),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("principal", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("request_hash", sa.Text),
    sa.Column("order_id", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True)),
)
