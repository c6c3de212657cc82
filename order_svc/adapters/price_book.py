"""Recently fetched catalog entries, in process memory.

Pricing every order with a call to inventory (and a replica write) would cost more than the
order itself; prices change rarely, so an entry is reused for ``max_age_s`` before it is
fetched again. The database replica stays the fallback for when inventory is away.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

from order_svc.domain.placement import CatalogEntry


class PriceBook:
    def __init__(self, *, max_age_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_age = max_age_s
        self._clock = clock
        self._entries: dict[str, tuple[CatalogEntry, float]] = {}

    def lookup(self, product_ids: Sequence[str]) -> tuple[dict[str, CatalogEntry], list[str]]:
        """(fresh entries, ids that are missing or too old)."""
        now = self._clock()
        fresh: dict[str, CatalogEntry] = {}
        stale: list[str] = []
        for product_id in product_ids:
            found = self._entries.get(product_id)
            if found is not None and now - found[1] < self._max_age:
                fresh[product_id] = found[0]
            else:
                stale.append(product_id)
        return fresh, stale

    def remember(self, entries: Iterable[CatalogEntry]) -> None:
        now = self._clock()
        for entry in entries:
            self._entries[entry.product_id] = (entry, now)
