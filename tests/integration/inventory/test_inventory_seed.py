"""The demo seed is idempotent and goes through the service layer (events are written)."""

from __future__ import annotations

import pytest

from inventory_svc.seed import seed
from inventory_svc.seed_catalog import CATALOG
from oms.inventory.v1 import events_pb2 as ev
from tests.integration.inventory.helpers import InventoryApp, level, outbox

pytestmark = pytest.mark.integration


async def test_seed_twice_creates_once(inventory: InventoryApp) -> None:
    assert await seed(inventory.deps) == len(CATALOG) >= 30
    events_after_first = len(await outbox(inventory))
    assert await seed(inventory.deps) == 0
    assert len(await outbox(inventory)) == events_after_first
    stocked = [units for *_, units in CATALOG if units]
    assert len(await outbox(inventory, ev.StockLevelChanged)) == len(stocked)
    product_id, *_, units = CATALOG[0]
    assert (await level(inventory, product_id)).quantity == units
    assert sum(1 for *_, units in CATALOG if units == 0) >= 2
