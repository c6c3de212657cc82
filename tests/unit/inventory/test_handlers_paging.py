"""Opaque keyset page tokens of ListProducts, through the service layer with fakes."""

from __future__ import annotations

import pytest

from inventory_svc.domain.model import Money, Product
from inventory_svc.domain.paging import ProductQuery
from inventory_svc.service_layer.catalog import ListProducts, list_products
from mesh.serving.errors import InvalidArgument
from tests.unit.inventory.fakes import Store, fake_deps


def _store(*ids: str, active: bool = True) -> Store:
    store = Store()
    for product_id in ids:
        store.products[product_id] = Product(product_id, f"Item {product_id}", "", Money("EUR", 100), active)
    return store


async def test_a_token_of_another_query_is_refused() -> None:
    store = _store("a", "b", "c")
    first = await list_products(ListProducts(ProductQuery(active=True), "", 1), fake_deps(store))
    assert first.next_page_token
    for other in (ProductQuery(active=False), ProductQuery(active=None), ProductQuery(True, "mug")):
        with pytest.raises(InvalidArgument) as caught:
            await list_products(ListProducts(other, first.next_page_token, 1), fake_deps(store))
        assert caught.value.violations[0].field == "page_token"


async def test_pages_cover_everything_once_in_product_id_order() -> None:
    store = _store(*(f"p{i:02d}" for i in range(7)))
    seen: list[str] = []
    token = ""
    for _ in range(10):
        page = await list_products(ListProducts(ProductQuery(), token, 3), fake_deps(store))
        seen += [p.product_id for p in page.products]
        token = page.next_page_token
        if not token:
            break
    assert seen == [f"p{i:02d}" for i in range(7)]


async def test_last_full_page_has_no_next_token() -> None:
    page = await list_products(ListProducts(ProductQuery(), "", 2), fake_deps(_store("a", "b")))
    assert [p.product_id for p in page.products] == ["a", "b"]
    assert page.next_page_token == ""


async def test_garbage_token_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument):
        await list_products(ListProducts(ProductQuery(), "not-a-token", 2), fake_deps(_store("a")))
