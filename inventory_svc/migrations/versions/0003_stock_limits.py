"""Stock stays within 0..MAX_STOCK (1,000,000,000 units per product), guaranteed by the database.

The service refuses an AddStock or AuditStock that would go past it (domain.model.MAX_STOCK);
these constraints make any other writer fail the same way, so no sum of stock can come near the
bigint range ("bigint out of range" was an INTERNAL answer). Added NOT VALID and then validated,
so the check of existing rows does not block writes to the table while it runs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# domain.model.MAX_STOCK at the time of writing; a migration never imports code that may change.
MAX_STOCK = 1_000_000_000

CONSTRAINTS = [
    ("stock", "stock_quantity_at_most_max", f"quantity <= {MAX_STOCK}"),
    ("reservation_items", "reservation_items_quantity_at_most_max", f"quantity <= {MAX_STOCK}"),
]


def upgrade() -> None:
    for table, name, condition in CONSTRAINTS:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({condition}) NOT VALID")
        op.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")


def downgrade() -> None:
    for table, name, _ in reversed(CONSTRAINTS):
        op.drop_constraint(name, table, type_="check")
