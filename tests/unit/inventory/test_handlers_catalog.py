"""Catalog and stock use cases with fakes: validation, masks, optimistic audits, cache."""

from __future__ import annotations

import pytest

from inventory_svc.domain.events import StockChangeCause, StockLevelChanged
from inventory_svc.domain.model import Line, Money, Product, Reservation, StockLevel
from inventory_svc.service_layer import catalog, stock
from mesh.serving.errors import Aborted, AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from tests.unit.inventory.fakes import FakeCatalogCache, Store, fake_deps

EUR_5 = catalog.PriceInput("EUR", 5, 0)


def _store(**stock_levels: int) -> Store:
    store = Store()
    for product_id, quantity in stock_levels.items():
        store.products[product_id] = Product(product_id, product_id.title(), "", Money("EUR", 500), True)
        store.stock[product_id] = StockLevel(product_id, quantity, 0, 1)
    return store


async def test_create_reports_every_bad_field_by_path() -> None:
    command = catalog.CreateProduct("Bad Id", " ", "", catalog.PriceInput("EURO", -1, 1))
    with pytest.raises(InvalidArgument) as caught:
        await catalog.create_product(command, fake_deps(Store()))
    assert {v.field for v in caught.value.violations} == {
        "product.product_id",
        "product.name",
        "product.price.currency_code",
        "product.price.units",
        "product.price.nanos",
    }


async def test_create_without_price_names_the_price() -> None:
    with pytest.raises(InvalidArgument) as caught:
        await catalog.create_product(catalog.CreateProduct("", "Mug", "", None), fake_deps(Store()))
    assert [v.field for v in caught.value.violations] == ["product.price"]


async def test_create_generates_an_id_and_an_empty_stock_row() -> None:
    store = Store()
    product = await catalog.create_product(catalog.CreateProduct("", "Mug", "", EUR_5), fake_deps(store))
    assert product.product_id and product.active and product.price == Money("EUR", 500)
    assert store.stock[product.product_id] == StockLevel(product.product_id, 0, 0, 0)


async def test_duplicate_id_already_exists() -> None:
    store = _store(mug=1)
    with pytest.raises(AlreadyExists):
        await catalog.create_product(catalog.CreateProduct("mug", "Mug", "", EUR_5), fake_deps(store))


@pytest.mark.parametrize(
    "path", ["product_id", "available_quantity", "colour", "price.amount", "name.first", "create_time.seconds"]
)
async def test_update_refuses_paths_it_cannot_change(path: str) -> None:
    command = catalog.UpdateProduct("mug", [path], name="x")
    with pytest.raises(InvalidArgument) as caught:
        await catalog.update_product(command, fake_deps(_store(mug=1)))
    assert [v.field for v in caught.value.violations] == ["update_mask.paths[0]"]


async def test_update_changes_only_masked_fields_and_evicts() -> None:
    store = _store(mug=1)
    cache = FakeCatalogCache()
    command = catalog.UpdateProduct("mug", ["active"], name="ignored", active=False)
    updated = await catalog.update_product(command, fake_deps(store, cache))
    assert (updated.name, updated.active) == ("Mug", False)
    assert cache.evicted == ["mug"]


@pytest.mark.parametrize(
    ("paths", "given", "expected"),
    [
        (["price.units"], catalog.PriceInput("", 7, 0), Money("USD", 733)),
        (["price.nanos"], catalog.PriceInput("", 0, 500_000_000), Money("USD", 1250)),
        (["price.currency_code"], catalog.PriceInput("gbp", 0, 0), Money("GBP", 1233)),
        (["price.nanos", "price.units"], catalog.PriceInput("", 3, 0), Money("USD", 300)),
        (["price", "price.units"], catalog.PriceInput("EUR", 4, 10_000_000), Money("EUR", 401)),
    ],
)
async def test_update_of_price_parts_keeps_the_other_parts(
    paths: list[str], given: catalog.PriceInput, expected: Money
) -> None:
    """grpc-gateway fills a PATCH's mask with leaf paths: ``price.units`` must not clobber the
    currency or the cents."""
    store = _store(mug=1)
    store.products["mug"] = Product("mug", "Mug", "", Money("USD", 1233), True)
    command = catalog.UpdateProduct("mug", paths, price=given)
    updated = await catalog.update_product(command, fake_deps(store))
    assert updated.price == expected


async def test_update_of_a_price_part_is_checked_alone() -> None:
    command = catalog.UpdateProduct("mug", ["price.nanos"], price=catalog.PriceInput("nonsense", -1, 5))
    with pytest.raises(InvalidArgument) as caught:
        await catalog.update_product(command, fake_deps(_store(mug=1)))
    assert [v.field for v in caught.value.violations] == ["product.price.nanos"]


async def test_update_of_unknown_product_is_not_found() -> None:
    with pytest.raises(NotFound):
        await catalog.update_product(catalog.UpdateProduct("ghost", ["name"], name="x"), fake_deps(Store()))


async def test_delete_refused_while_reserved() -> None:
    store = _store(mug=5)
    store.reservations["o1"] = Reservation("o1", [Line("mug", 1)])
    with pytest.raises(FailedPrecondition):
        await catalog.delete_product(catalog.DeleteProduct("mug"), fake_deps(store))
    assert "mug" in store.products


async def test_read_after_write_is_fresh() -> None:
    store = _store(mug=5)
    cache = FakeCatalogCache()
    assert (await catalog.get_product(catalog.GetProduct("mug"), fake_deps(store, cache))).available == 5
    await stock.add_stock(stock.AddStock("mug", 3), fake_deps(store, cache))
    assert (await catalog.get_product(catalog.GetProduct("mug"), fake_deps(store, cache))).available == 8
    assert (await stock.get_stock(stock.GetStock("mug"), fake_deps(store, cache))).quantity == 8


async def test_add_stock_must_be_positive_and_publishes() -> None:
    store = _store(mug=5)
    with pytest.raises(InvalidArgument):
        await stock.add_stock(stock.AddStock("mug", 0), fake_deps(store))
    level = await stock.add_stock(stock.AddStock("mug", 2), fake_deps(store))
    assert (level.quantity, level.version) == (7, 2)
    [event] = store.published
    assert isinstance(event, StockLevelChanged) and event.cause is StockChangeCause.ADDED


async def test_audit_with_stale_version_is_aborted_and_changes_nothing() -> None:
    store = _store(mug=5)
    with pytest.raises(Aborted):
        await stock.audit_stock(stock.AuditStock("mug", 9, 0), fake_deps(store))
    assert store.stock["mug"] == StockLevel("mug", 5, 0, 1) and store.published == []


async def test_audit_below_reserved_is_refused() -> None:
    store = _store(mug=5)
    store.stock["mug"] = StockLevel("mug", 5, 3, 4)
    with pytest.raises(FailedPrecondition):
        await stock.audit_stock(stock.AuditStock("mug", 2, 4), fake_deps(store))
    level = await stock.audit_stock(stock.AuditStock("mug", 3, 4), fake_deps(store))
    assert (level.quantity, level.reserved, level.available, level.version) == (3, 3, 0, 5)


async def test_check_stock_lists_unknown_ids_apart() -> None:
    checked = await stock.check_stock(stock.CheckStock(["mug", "ghost", "mug"]), fake_deps(_store(mug=4)))
    assert checked.available == {"mug": 4} and checked.unknown_product_ids == ["ghost"]


async def test_check_stock_bounds() -> None:
    with pytest.raises(InvalidArgument):
        await stock.check_stock(stock.CheckStock([]), fake_deps(Store()))
    with pytest.raises(InvalidArgument):
        await stock.check_stock(stock.CheckStock([f"p{i}" for i in range(501)]), fake_deps(Store()))
