"""docs/input-bounds.md shows exactly the bounds the descriptors declare."""

from __future__ import annotations

from pathlib import Path

from mesh.serving.bounds_doc import END, START, markdown

DOC = Path(__file__).resolve().parents[3] / "docs" / "input-bounds.md"


def test_the_committed_table_is_the_generated_one() -> None:
    committed = DOC.read_text().split(START, 1)[1].split(END, 1)[0].strip()
    assert committed == markdown(), "stale: run scripts/update-bounds-doc"


def test_the_table_lists_the_bounds_of_the_issue() -> None:
    table = markdown()
    assert "| `OrderService.PlaceOrder` | `items[]` | 1..100 entries |" in table
    assert "| `OrderService.CancelOrder` | `reason` | at most 500 characters |" in table
    assert "| `CustomerService.CreateCustomer` | `customer.email` | at most 254 characters; an email address |" in table
    assert "| `OrderService.ListOrders` | `status` | a defined value |" in table
