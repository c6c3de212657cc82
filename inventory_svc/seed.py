"""``python -m inventory_svc.seed``: loads the demo catalog through the service layer.

Idempotent: a product that already exists is left as it is (its stock included), so running
it again changes nothing. Going through the use cases means StockLevelChanged events are
written to the outbox like for any other stock delivery.
"""

from __future__ import annotations

import asyncio
import sys

from inventory_svc.bootstrap import SERVICE, build_connections, build_dependencies
from inventory_svc.seed_catalog import CATALOG, SeedProduct
from inventory_svc.service_layer import catalog, stock
from inventory_svc.service_layer.ports import Dependencies
from inventory_svc.settings import load_config
from mesh.serving.errors import AlreadyExists
from mesh.settings.common import SettingsError
from mesh.storage.migrate import upgrade


async def seed(deps: Dependencies, products: list[SeedProduct] = CATALOG) -> int:
    """Creates the products that are missing; returns how many it created."""
    created = 0
    for product_id, name, description, price_cents, units in products:
        price = catalog.PriceInput("EUR", price_cents // 100, (price_cents % 100) * 10_000_000)
        try:
            await catalog.create_product(catalog.CreateProduct(product_id, name, description, price), deps)
        except AlreadyExists:
            continue
        if units:
            await stock.add_stock(stock.AddStock(product_id, units), deps)
        created += 1
    return created


async def run() -> int:
    config = load_config()
    if config.service.migrate_on_start:
        await upgrade(SERVICE, config.service.database_url)
    connections = build_connections(config)
    try:
        return await seed(build_dependencies(config, connections=connections))
    finally:
        await connections.close()


def main() -> None:
    try:
        created = asyncio.run(run())
    except SettingsError as exc:
        sys.stderr.write(f"inventory seed: {exc}\n")
        raise SystemExit(2) from None
    sys.stdout.write(f"inventory seed: {created} products created, {len(CATALOG) - created} already present\n")


if __name__ == "__main__":
    main()
