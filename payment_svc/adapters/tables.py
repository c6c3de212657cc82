"""SQLAlchemy Core view of the schema created by migrations/versions/0001_initial.py."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

payments = sa.Table(
    "payments",
    metadata,
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
    # The order as OrderPlaced stated it; NULL until it arrived.
    sa.Column("customer_id", sa.Text, nullable=False),
    sa.Column("amount_minor", sa.BigInteger),
    sa.Column("currency", sa.CHAR(3)),
    sa.Column("payment_method", sa.Text),
    sa.Column("order_problem", sa.Text),
    sa.Column("reserved", sa.Boolean, nullable=False),
    sa.Column("cancel_wanted", sa.Boolean, nullable=False),
    sa.Column("ship_wanted", sa.Boolean, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("provider", sa.Text, nullable=False),
    sa.Column("provider_ref", sa.Text, nullable=False),
    sa.Column("decline_code", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("captured", sa.Boolean, nullable=False),
    sa.Column("tries", sa.Integer, nullable=False),
    sa.Column("next_try_at", sa.DateTime(timezone=True)),
    sa.Column("last_error", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
