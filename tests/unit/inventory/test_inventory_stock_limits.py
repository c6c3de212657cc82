"""Stock stays within 0..MAX_STOCK and prices within what an order can total: the domain rules
and the use cases, with in-memory fakes (the database's CHECK is in tests/integration)."""

from __future__ import annotations

import pytest

from inventory_svc.domain.model import MAX_STOCK, Money, Product, StockLevel, can_add
from inventory_svc.domain.validation import MAX_UNITS, Violations, check_units, parse_price
from inventory_svc.service_layer import stock
from mesh.serving.errors import FailedPrecondition, InvalidArgument
from mesh.values import money
from order_svc.domain import placement
from tests.unit.inventory.fakes import Store, fake_deps


def _store(quantity: int, reserved: int = 0) -> Store:
    store = Store()
    store.products["mug"] = Product("mug", "Mug", "", Money("EUR", 500), True)
    store.stock["mug"] = StockLevel("mug", quantity, reserved, 1)
    return store


def test_can_add_up_to_the_maximum_and_not_past_it() -> None:
    level = StockLevel("mug", MAX_STOCK - 5, 0, 1)
    assert can_add(level, 5)
    assert not can_add(level, 6)


@pytest.mark.parametrize(
    ("value", "positive", "ok"),
    [
        (1, True, True),
        (MAX_STOCK, True, True),
        (MAX_STOCK + 1, True, False),
        (2**63 - 1, True, False),
        (0, True, False),
        (0, False, True),
        (-1, False, False),
        (MAX_STOCK + 1, False, False),
    ],
)
def test_units_are_bounded_in_form(value: int, positive: bool, ok: bool) -> None:
    out = Violations()
    check_units(value, "quantity", out, positive=positive)
    assert (not out) is ok
    assert all(v.field == "quantity" for v in out.items)


async def test_add_stock_to_the_maximum_then_one_more_is_refused_and_writes_nothing() -> None:
    store = _store(MAX_STOCK - 10)
    level = await stock.add_stock(stock.AddStock("mug", 10), fake_deps(store))
    assert level.quantity == MAX_STOCK
    with pytest.raises(FailedPrecondition) as refused:
        await stock.add_stock(stock.AddStock("mug", 1), fake_deps(store))
    assert refused.value.reason == "STOCK_LIMIT"
    [violation] = refused.value.violations
    assert violation.subject == "products/mug" and violation.description.startswith("quantity: at most 0 more")
    assert store.stock["mug"].quantity == MAX_STOCK
    assert len(store.published) == 1  # only the first, successful change


async def test_an_add_larger_than_any_stock_is_invalid_argument_before_any_read() -> None:
    store = _store(0)
    for units in (MAX_STOCK + 1, 2**63 - 1):
        with pytest.raises(InvalidArgument) as refused:
            await stock.add_stock(stock.AddStock("mug", units), fake_deps(store))
        assert [v.field for v in refused.value.violations] == ["quantity"]
    assert store.stock["mug"].quantity == 0 and store.published == []


async def test_an_audit_count_past_the_maximum_is_invalid_argument() -> None:
    store = _store(5)
    with pytest.raises(InvalidArgument) as refused:
        await stock.audit_stock(stock.AuditStock("mug", MAX_STOCK + 1, 1), fake_deps(store))
    assert [v.field for v in refused.value.violations] == ["quantity"]
    level = await stock.audit_stock(stock.AuditStock("mug", MAX_STOCK, 1), fake_deps(store))
    assert level.quantity == MAX_STOCK


def test_the_dearest_price_times_the_largest_order_fits_a_bigint() -> None:
    assert MAX_UNITS * money.MINOR_PER_UNIT == money.MAX_UNIT_PRICE_MINOR == placement.MAX_UNIT_PRICE_MINOR
    largest_total = money.MAX_UNIT_PRICE_MINOR * placement.MAX_QUANTITY * placement.MAX_LINES
    assert money.fits(largest_total)
    assert money.fits(money.MAX_MINOR) and not money.fits(money.MAX_MINOR + 1)
    out = Violations()
    dearest = parse_price("EUR", MAX_UNITS - 1, 990_000_000, "price", out)
    assert dearest is not None and dearest.minor < money.MAX_UNIT_PRICE_MINOR
    parse_price("EUR", MAX_UNITS, 0, "price", out)
    assert [v.field for v in out.items] == ["price.units"]
