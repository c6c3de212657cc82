from __future__ import annotations

from order_svc.domain.placement import (
    MAX_UNIT_PRICE_MINOR,
    CatalogEntry,
    RequestedLine,
    check_catalog,
    check_lines,
    check_merged,
    merge_lines,
)


def fields(problems: list) -> list[str]:  # type: ignore[type-arg]
    return [p.field for p in problems]


def test_an_order_needs_at_least_one_line() -> None:
    assert fields(check_lines([])) == ["items"]


def test_at_most_one_hundred_lines() -> None:
    lines = [RequestedLine(f"p-{i}", 1) for i in range(101)]
    assert fields(check_lines(lines)) == ["items"]
    assert check_lines(lines[:100]) == []


def test_quantities_are_one_to_a_thousand_and_named_by_position() -> None:
    lines = [RequestedLine("a", 0), RequestedLine("b", 1), RequestedLine("c", 1000), RequestedLine("d", 1001)]
    assert fields(check_lines(lines)) == ["items[0].quantity", "items[3].quantity"]


def test_empty_product_id_is_named() -> None:
    assert fields(check_lines([RequestedLine(" ", 1)])) == ["items[0].product_id"]


def test_duplicate_lines_are_merged_in_first_seen_order() -> None:
    merged = merge_lines([RequestedLine("a", 2), RequestedLine("b", 1), RequestedLine("a", 3)])
    assert merged == [RequestedLine("a", 5), RequestedLine("b", 1)]


def test_merged_quantity_over_the_limit_is_refused() -> None:
    merged = merge_lines([RequestedLine("a", 600), RequestedLine("a", 600)])
    assert len(check_merged(merged)) == 1


def test_catalog_rules_unknown_inactive_and_mixed_currency() -> None:
    catalog = {
        "a": CatalogEntry("a", "A", 100, "EUR", True),
        "b": CatalogEntry("b", "B", 100, "EUR", False),
        "c": CatalogEntry("c", "C", 100, "USD", True),
    }
    unknown = check_catalog([RequestedLine("a", 1), RequestedLine("x", 1)], catalog)
    assert [(p.field, p.description) for p in unknown] == [("items[1].product_id", "no such product")]
    assert check_catalog([RequestedLine("b", 1)], catalog)[0].description == "is not for sale"
    mixed = check_catalog([RequestedLine("a", 1), RequestedLine("c", 1)], catalog)
    assert "different currencies" in mixed[0].description
    assert check_catalog([RequestedLine("a", 1)], catalog) == []


def test_a_price_past_the_cap_is_refused_so_no_total_can_overflow() -> None:
    catalog = {
        "dear": CatalogEntry("dear", "Dear", MAX_UNIT_PRICE_MINOR, "EUR", True),
        "too-dear": CatalogEntry("too-dear", "Too dear", MAX_UNIT_PRICE_MINOR + 1, "EUR", True),
    }
    assert check_catalog([RequestedLine("dear", 1000)], catalog) == []
    [problem] = check_catalog([RequestedLine("dear", 1), RequestedLine("too-dear", 1)], catalog)
    assert problem.field == "items[1].product_id"
