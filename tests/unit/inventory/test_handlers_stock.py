"""Stock and catalog reads with fakes: read-through caching (and Redis away), stock changes'
events and evictions, the refusals of unknown products, the bounds of batch reads."""

from __future__ import annotations

import pytest

from inventory_svc.domain.events import StockChangeCause, StockLevelChanged
from inventory_svc.domain.model import Line, Money, Product, Reservation, StockLevel
from inventory_svc.domain.paging import ProductQuery
from inventory_svc.service_layer import catalog, stock
from mesh.serving.errors import InvalidArgument, NotFound
from tests.unit.inventory.fakes import Fakes


def _fakes(**stock_levels: int) -> Fakes:
    fakes = Fakes()
    for product_id, quantity in stock_levels.items():
        fakes.store.products[product_id] = Product(product_id, product_id.title(), "", Money("EUR", 500), True)
        fakes.store.stock[product_id] = StockLevel(product_id, quantity, 0, 1)
    return fakes


async def test_a_second_read_is_served_from_the_cache() -> None:
    fakes = _fakes(mug=5)
    deps = fakes.deps()
    first = await catalog.get_product(catalog.GetProduct("mug"), deps)
    level = await stock.get_stock(stock.GetStock("mug"), deps)
    opened = len(fakes.uows)
    assert await catalog.get_product(catalog.GetProduct("mug"), deps) == first
    assert await stock.get_stock(stock.GetStock("mug"), deps) == level
    assert len(fakes.uows) == opened == 2


async def test_with_the_cache_away_every_read_goes_to_the_database_and_nothing_is_stored() -> None:
    fakes = _fakes(mug=5)
    fakes.cache.down = True
    deps = fakes.deps()
    for _ in range(2):
        assert (await catalog.get_product(catalog.GetProduct("mug"), deps)).available == 5
        assert (await stock.get_stock(stock.GetStock("mug"), deps)).quantity == 5
        page = await catalog.list_products(catalog.ListProducts(ProductQuery()), deps)
        assert [p.product_id for p in page.products] == ["mug"]
    assert len(fakes.uows) == 6 and fakes.cache.entries == {}


@pytest.mark.parametrize("read", ["product", "stock"])
async def test_reads_name_an_empty_id_and_refuse_an_unknown_one(read: str) -> None:
    deps = _fakes().deps()

    async def get(product_id: str) -> object:
        if read == "product":
            return await catalog.get_product(catalog.GetProduct(product_id), deps)
        return await stock.get_stock(stock.GetStock(product_id), deps)

    with pytest.raises(InvalidArgument) as caught:
        await get("")
    assert [(v.field, v.description) for v in caught.value.violations] == [("product_id", "must not be empty")]
    with pytest.raises(NotFound):
        await get("ghost")


async def test_a_listed_page_is_cached_until_a_product_changes() -> None:
    fakes = _fakes(a=1, b=1)
    deps = fakes.deps()
    await catalog.list_products(catalog.ListProducts(ProductQuery()), deps)
    await catalog.list_products(catalog.ListProducts(ProductQuery()), deps)
    assert len(fakes.uows) == 1
    await catalog.update_product(catalog.UpdateProduct("b", ["name"], name="Bee"), deps)
    page = await catalog.list_products(catalog.ListProducts(ProductQuery()), deps)
    assert [p.name for p in page.products] == ["A", "Bee"]


async def test_adding_stock_publishes_the_new_level_and_evicts() -> None:
    fakes = _fakes(mug=5)
    level = await stock.add_stock(stock.AddStock("mug", 3, reason="delivery"), fakes.deps())
    assert fakes.store.published == [StockLevelChanged(level, StockChangeCause.ADDED)]
    assert fakes.cache.evicted == ["mug"] and fakes.store.stock["mug"].quantity == 8


async def test_an_audit_publishes_the_count_and_evicts() -> None:
    fakes = _fakes(mug=5)
    level = await stock.audit_stock(stock.AuditStock("mug", 4, 1), fakes.deps())
    assert (level.quantity, level.version) == (4, 2)
    assert fakes.store.published == [StockLevelChanged(level, StockChangeCause.AUDITED)]
    assert fakes.cache.evicted == ["mug"]


@pytest.mark.parametrize("change", ["add", "audit"])
async def test_stock_of_an_unknown_product_is_not_found_and_nothing_commits(change: str) -> None:
    fakes = _fakes()
    with pytest.raises(NotFound):
        if change == "add":
            await stock.add_stock(stock.AddStock("ghost", 1), fakes.deps())
        else:
            await stock.audit_stock(stock.AuditStock("ghost", 1, 0), fakes.deps())
    assert fakes.commits == 0 and fakes.cache.evicted == []


async def test_an_audit_names_every_bad_field() -> None:
    with pytest.raises(InvalidArgument) as caught:
        await stock.audit_stock(stock.AuditStock("", -1, -1), _fakes().deps())
    assert [v.field for v in caught.value.violations] == ["product_id", "quantity", "expected_version"]


async def test_an_inactive_product_has_nothing_available_but_is_known() -> None:
    fakes = _fakes(mug=5)
    fakes.store.products["mug"] = Product("mug", "Mug", "", Money("EUR", 500), active=False)
    checked = await stock.check_stock(stock.CheckStock(["mug"]), fakes.deps())
    assert (checked.available, checked.unknown_product_ids) == ({"mug": 0}, [])


async def test_an_update_that_changes_nothing_answers_the_product_without_a_write() -> None:
    fakes = _fakes(mug=5)
    product = await catalog.update_product(catalog.UpdateProduct("mug", []), fakes.deps())
    assert product.name == "Mug" and fakes.commits == 0 and fakes.cache.evicted == []


async def test_delete_drops_the_product_and_its_stock_and_evicts() -> None:
    fakes = _fakes(mug=5)
    fakes.store.reservations["old"] = Reservation("old", [Line("mug", 1)])
    fakes.store.reservations["old"].ship()
    await catalog.delete_product(catalog.DeleteProduct("mug"), fakes.deps())
    assert "mug" not in fakes.store.products and "mug" not in fakes.store.stock
    assert fakes.cache.evicted == ["mug"] and "old" in fakes.store.reservations


async def test_delete_of_an_unknown_product_is_not_found() -> None:
    with pytest.raises(NotFound):
        await catalog.delete_product(catalog.DeleteProduct("ghost"), _fakes().deps())


async def test_a_batch_read_is_one_query_whatever_the_count() -> None:
    fakes = _fakes(**{f"p{i}": 1 for i in range(100)})
    batch = await catalog.batch_get_products(catalog.BatchGetProducts([f"p{i}" for i in range(100)]), fakes.deps())
    assert len(batch.products) == 100 and batch.missing_product_ids == []
    assert fakes.store.batch_reads == 1


@pytest.mark.parametrize(
    ("ids", "field"),
    [([], "product_ids"), ([f"p{i}" for i in range(101)], "product_ids"), (["a", "x" * 129], "product_ids[1]")],
)
async def test_batch_read_bounds(ids: list[str], field: str) -> None:
    fakes = _fakes()
    with pytest.raises(InvalidArgument) as caught:
        await catalog.batch_get_products(catalog.BatchGetProducts(ids), fakes.deps())
    assert [v.field for v in caught.value.violations] == [field]
    assert fakes.store.batch_reads == 0
