from __future__ import annotations

from order_svc.adapters.price_book import PriceBook
from order_svc.domain.placement import CatalogEntry


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_are_reused_until_they_are_too_old() -> None:
    clock = Clock()
    book = PriceBook(max_age_s=30, clock=clock)
    entry = CatalogEntry("p-1", "Widget", 250, "EUR", True)
    assert book.lookup(["p-1"]) == ({}, ["p-1"])
    book.remember([entry])
    clock.now = 29.9
    assert book.lookup(["p-1", "p-2"]) == ({"p-1": entry}, ["p-2"])
    clock.now = 30.0
    assert book.lookup(["p-1"]) == ({}, ["p-1"])
