"""The outbox and inbox tables every service database has (docs/architecture.md, "Events on Kafka").

``create_messaging_tables_v1`` is called by each service's first migration, and
``add_outbox_parking_v2`` by each service's second. Both are frozen: a later change to these
tables is a new function and a new migration, never an edit of one of them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

OUTBOX_CHANNEL = "oms_outbox"
# Longest error text kept with a parked outbox row (a broker's message can be long).
PARK_ERROR_MAX_CHARS = 2000


def outbox_table(metadata: sa.MetaData) -> sa.Table:
    """The outbox as it is now (every migration applied)."""
    return sa.Table("outbox", metadata, *_outbox_columns_v1(), *_outbox_parking_columns())


def inbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table("inbox", metadata, *_inbox_columns())


def _outbox_columns_v1() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", sa.Text, nullable=False, unique=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("message_key", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        # Trace context of the transaction that wrote the event, so the trace continues
        # when the relay publishes it later.
        sa.Column("headers", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True)),
    ]


def _outbox_parking_columns() -> list[sa.Column[Any]]:
    return [
        # Set when the broker refused the row for good (too large, unknown topic, ...): the
        # relay skips it from then on. An operator's republish sets both back to NULL.
        sa.Column("parked_at", sa.DateTime(timezone=True)),
        sa.Column("park_error", sa.Text),
    ]


def _inbox_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def create_messaging_tables_v1(op: Any) -> None:
    """Creates outbox and inbox (``op`` is alembic's operations object)."""
    metadata = sa.MetaData()
    outbox = sa.Table("outbox", metadata, *_outbox_columns_v1())
    inbox = inbox_table(metadata)
    # Column.copy() is deprecated (a warning, an error under the test suite's filterwarnings);
    # _copy() is the same copy without the warning, and the emitted DDL is unchanged.
    op.create_table(outbox.name, *[c._copy() for c in outbox.columns])
    op.create_index("outbox_unpublished", "outbox", ["id"], postgresql_where=sa.text("published_at IS NULL"))
    op.create_index(
        "outbox_published_at", "outbox", ["published_at"], postgresql_where=sa.text("published_at IS NOT NULL")
    )
    op.create_table(inbox.name, *[c._copy() for c in inbox.columns])
    op.create_index("inbox_processed_at", "inbox", ["processed_at"])
    # Wake relays the moment a transaction that wrote events commits (NOTIFY is delivered at
    # commit), instead of making them poll fast.
    op.execute(
        f"""
        CREATE FUNCTION oms_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('{OUTBOX_CHANNEL}', ''); RETURN NULL; END $$;
        """
    )
    op.execute(
        "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION oms_notify_outbox()"
    )


def add_outbox_parking_v2(op: Any) -> None:
    """Adds the parked state to the outbox (``op`` is alembic's operations object).

    Pending: ``published_at IS NULL AND parked_at IS NULL`` (what the relay publishes);
    parked: ``parked_at IS NOT NULL AND published_at IS NULL`` (what an operator republishes).
    """
    for column in _outbox_parking_columns():
        op.add_column("outbox", column)
    # The relay's query reads pending rows in id order; parked rows must not be scanned past
    # on every batch, so the pending index leaves them out (and replaces the v1 index).
    op.create_index(
        "outbox_pending", "outbox", ["id"], postgresql_where=sa.text("published_at IS NULL AND parked_at IS NULL")
    )
    op.drop_index("outbox_unpublished", table_name="outbox")
    op.create_index(
        "outbox_parked", "outbox", ["id"], postgresql_where=sa.text("parked_at IS NOT NULL AND published_at IS NULL")
    )


def drop_outbox_parking_v2(op: Any) -> None:
    """Undoes ``add_outbox_parking_v2``; parked rows become pending again."""
    op.drop_index("outbox_parked", table_name="outbox")
    op.create_index("outbox_unpublished", "outbox", ["id"], postgresql_where=sa.text("published_at IS NULL"))
    op.drop_index("outbox_pending", table_name="outbox")
    op.drop_column("outbox", "park_error")
    op.drop_column("outbox", "parked_at")
