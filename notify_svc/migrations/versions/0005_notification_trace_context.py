"""Each notification keeps the trace context of the event handling that recorded it (issue 19), so
its SMTP send is a span of the order's trace, a child of the event's consume span.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A constant default: no table rewrite, and rows recorded before have no trace to continue.
    op.add_column(
        "notifications",
        sa.Column("trace_context", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    )


def downgrade() -> None:
    op.drop_column("notifications", "trace_context")
