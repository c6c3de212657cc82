"""Pure domain rules: lines, shortfalls, reservation states, validation, money."""

from __future__ import annotations

import pytest

from inventory_svc.domain.model import (
    Line,
    Money,
    Reservation,
    ReservationClosed,
    ReservationStatus,
    StockLevel,
    audit_allowed,
)
from inventory_svc.domain.reservation import UnreservableOrder, describe_failure, normalize_lines, shortfalls
from inventory_svc.domain.validation import Violations, check_product_id, parse_price


def test_lines_are_merged_per_product_and_sorted_by_product_id() -> None:
    lines = normalize_lines([Line("b", 1), Line("a", 2), Line("b", 3)])
    assert lines == [Line("a", 2), Line("b", 4)]


@pytest.mark.parametrize(
    "lines", [[], [Line("a", 0)], [Line("a", -1)], [Line("", 1)]], ids=["empty", "zero", "negative", "no-product"]
)
def test_malformed_orders_cannot_be_reserved(lines: list[Line]) -> None:
    with pytest.raises(UnreservableOrder):
        normalize_lines(lines)


def test_shortfalls_list_only_short_lines_and_unknown_products_have_zero() -> None:
    lines = [Line("a", 2), Line("b", 5), Line("ghost", 1)]
    short = shortfalls(lines, {"a": 10, "b": 3})
    assert [(s.product_id, s.requested, s.available) for s in short] == [("b", 5, 3), ("ghost", 1, 0)]
    assert "b: requested 5, available 3" in describe_failure(short)


def test_enough_stock_means_no_shortfall() -> None:
    assert shortfalls([Line("a", 3)], {"a": 3}) == []


def test_reservation_ends_once() -> None:
    reservation = Reservation("o1", [Line("a", 1)])
    reservation.release()
    assert reservation.status is ReservationStatus.RELEASED
    with pytest.raises(ReservationClosed):
        reservation.ship()


def test_audit_may_not_count_below_reserved() -> None:
    level = StockLevel("a", quantity=10, reserved=4, version=3)
    assert audit_allowed(level, 4)
    assert not audit_allowed(level, 3)


def test_price_in_cents() -> None:
    out = Violations()
    assert parse_price("eur", 12, 340_000_000, "price", out) == Money("EUR", 1234)
    assert not out


@pytest.mark.parametrize(
    ("currency", "units", "nanos", "field"),
    [
        ("EU", 1, 0, "price.currency_code"),
        ("E1R", 1, 0, "price.currency_code"),
        ("EUR", -1, 0, "price.units"),
        ("EUR", 1, -10_000_000, "price.nanos"),
        ("EUR", 1, 5_000_000, "price.nanos"),
        ("EUR", 1, 1_000_000_000, "price.nanos"),
    ],
)
def test_bad_prices_name_the_field(currency: str, units: int, nanos: int, field: str) -> None:
    out = Violations()
    assert parse_price(currency, units, nanos, "price", out) is None
    assert [v.field for v in out.items] == [field]


def test_money_parts_round_trip() -> None:
    money = Money("EUR", 1999)
    assert (money.units, money.nanos) == (19, 990_000_000)


@pytest.mark.parametrize("product_id", ["a", "mug-01", "x" * 63])
def test_valid_product_ids(product_id: str) -> None:
    out = Violations()
    check_product_id(product_id, "product_id", out)
    assert not out


@pytest.mark.parametrize("product_id", ["-a", "Mug", "a_b", "x" * 64, "a b"])
def test_invalid_product_ids(product_id: str) -> None:
    out = Violations()
    check_product_id(product_id, "product.product_id", out)
    assert [v.field for v in out.items] == ["product.product_id"]
