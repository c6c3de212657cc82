"""Outbox rows the broker refuses for good are parked, not retried for ever (issue 12).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

from mesh.messaging.tables import add_outbox_parking_v2, drop_outbox_parking_v2

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_parking_v2(op)


def downgrade() -> None:
    drop_outbox_parking_v2(op)
