"""Catalog use cases: create, change, delete, read and list products."""

from __future__ import annotations

from dataclasses import dataclass

from inventory_svc.domain.model import PriceChange, Product, ProductChanges
from inventory_svc.domain.paging import ProductQuery
from inventory_svc.domain.validation import (
    Violations,
    check_description,
    check_name,
    check_product_id,
    new_product_id,
    parse_price,
    parse_price_parts,
)
from inventory_svc.service_layer.caching import evict_after_commit, read_through
from inventory_svc.service_layer.errors import product_not_found, raise_if_invalid, require_id
from inventory_svc.service_layer.ports import Dependencies, ProductPage, UnitOfWork
from mesh.serving.errors import AlreadyExists, FailedPrecondition, InvalidArgument, PreconditionViolation, shown
from mesh.storage import paging
from mesh.values.violations import FieldViolation

# A mask may name the whole price or its parts (grpc-gateway fills a PATCH's mask with the leaf
# paths of the body): a part alone changes only that part.
PRICE_PARTS = ("price.currency_code", "price.units", "price.nanos")
UPDATABLE = ("name", "description", "price", "active", *PRICE_PARTS)
# BatchGetProducts: at most this many ids, each at most MAX_ID characters (the contract's bounds).
MAX_BATCH_GET = 100
MAX_ID = 128
NOT_UPDATABLE = {
    "product_id": "is immutable",
    "available_quantity": "is output only (use AddStock or AuditStock)",
    "create_time": "is output only",
    "update_time": "is output only",
}


@dataclass(frozen=True)
class PriceInput:
    currency_code: str
    units: int
    nanos: int


@dataclass(frozen=True)
class CreateProduct:
    product_id: str
    name: str
    description: str
    price: PriceInput | None


@dataclass(frozen=True)
class UpdateProduct:
    product_id: str
    paths: list[str]
    name: str = ""
    description: str = ""
    price: PriceInput | None = None
    active: bool = False


@dataclass(frozen=True)
class DeleteProduct:
    product_id: str


@dataclass(frozen=True)
class GetProduct:
    product_id: str


@dataclass(frozen=True)
class BatchGetProducts:
    product_ids: list[str]


@dataclass(frozen=True)
class ListProducts:
    query: ProductQuery
    page_token: str = ""
    page_size: int = 0


async def create_product(cmd: CreateProduct, deps: Dependencies) -> Product:
    """New products are active and have no stock."""
    out = Violations()
    if cmd.product_id:
        check_product_id(cmd.product_id, "product.product_id", out)
    check_name(cmd.name, "product.name", out)
    check_description(cmd.description, "product.description", out)
    price = None
    if cmd.price is None:
        out.add("product.price", "is required")
    else:
        price = parse_price(cmd.price.currency_code, cmd.price.units, cmd.price.nanos, "product.price", out)
    raise_if_invalid(out)
    assert price is not None
    product_id = cmd.product_id or new_product_id()
    product = Product(product_id, cmd.name.strip(), cmd.description, price, active=True)
    async with deps.uow() as uow:
        created = await uow.products.add(product)
        if created is None:
            raise AlreadyExists(f"product {shown(product_id)} already exists", metadata={"product_id": product_id})
        evict_after_commit(uow, deps.catalog_cache, [product_id])
        await uow.commit()
    return created


def _changes(cmd: UpdateProduct) -> ProductChanges:
    out = Violations()
    if not cmd.product_id:
        out.add("product.product_id", "must not be empty")
    for index, path in enumerate(cmd.paths):
        head = path.partition(".")[0]
        if head in NOT_UPDATABLE:
            out.add(f"update_mask.paths[{index}]", f"{shown(path, quoted=False)} {NOT_UPDATABLE[head]}")
        elif path not in UPDATABLE:
            out.add(f"update_mask.paths[{index}]", f"{shown(path)} is not a field of Product that can be updated")
    paths = set(cmd.paths)
    if "name" in paths:
        check_name(cmd.name, "product.name", out)
    if "description" in paths:
        check_description(cmd.description, "product.description", out)
    price = _price_change(cmd.price, paths, out)
    raise_if_invalid(out)
    return ProductChanges(
        name=cmd.name.strip() if "name" in paths else None,
        description=cmd.description if "description" in paths else None,
        price=price,
        active=cmd.active if "active" in paths else None,
    )


def _price_change(given: PriceInput | None, paths: set[str], out: Violations) -> PriceChange | None:
    """The whole price when the mask names ``price``, else the parts it names (None: unchanged)."""
    if "price" in paths:
        if given is None:
            out.add("product.price", "is required when update_mask names it")
            return None
        return parse_price_parts(given.currency_code, given.units, given.nanos, "product.price", out)
    if not paths & set(PRICE_PARTS):
        return None
    # A named part of an absent price is that part's default, as for any field a mask names.
    given = given or PriceInput("", 0, 0)
    return parse_price_parts(
        given.currency_code if "price.currency_code" in paths else None,
        given.units if "price.units" in paths else None,
        given.nanos if "price.nanos" in paths else None,
        "product.price",
        out,
    )


async def update_product(cmd: UpdateProduct, deps: Dependencies) -> Product:
    changes = _changes(cmd)
    async with deps.uow() as uow:
        if changes.is_empty():
            current = await uow.products.get(cmd.product_id)
            if current is None:
                raise product_not_found(cmd.product_id)
            return current
        updated = await uow.products.update(cmd.product_id, changes)
        if updated is None:
            raise product_not_found(cmd.product_id)
        evict_after_commit(uow, deps.catalog_cache, [cmd.product_id])
        await uow.commit()
    return updated


async def delete_product(cmd: DeleteProduct, deps: Dependencies) -> None:
    """Refused while an open reservation holds the product; otherwise a hard delete.

    Past reservations keep the product id as text, so history survives the deletion.
    """
    product_id = cmd.product_id
    require_id(product_id)
    async with deps.uow() as uow:
        # Locking the stock row first serializes with a concurrent reservation of the product:
        # either it committed before (and `holds` sees it) or it waits and then finds no row.
        if await uow.stock.lock(product_id) is None:
            raise product_not_found(product_id)
        if await uow.reservations.holds(product_id):
            raise FailedPrecondition(
                f"product {product_id!r} is held by open reservations",
                violations=[
                    PreconditionViolation("RESERVATION", f"products/{product_id}", "open orders hold this product")
                ],
            )
        await uow.products.delete(product_id)
        evict_after_commit(uow, deps.catalog_cache, [product_id])
        await uow.commit()


async def _product_of(uow: UnitOfWork, product_id: str) -> Product | None:
    return await uow.products.get(product_id)


async def get_product(cmd: GetProduct, deps: Dependencies) -> Product:
    cache = deps.catalog_cache
    return await read_through(
        cmd.product_id,
        deps,
        slot_of=cache.product_slot,
        cached=cache.get_product,
        store=cache.put_product,
        load=_product_of,
    )


@dataclass(frozen=True)
class ProductBatch:
    products: list[Product]
    missing_product_ids: list[str]


async def batch_get_products(cmd: BatchGetProducts, deps: Dependencies) -> ProductBatch:
    """The products named, in the order asked (duplicates collapsed), and the ids that name none.

    One query whatever the count. Not read through the cache: its per-product entries would cost
    two Redis round trips per id, more than the one indexed query.
    """
    product_ids = cmd.product_ids
    if not product_ids:
        raise InvalidArgument([FieldViolation("product_ids", "must name at least one product")])
    if len(product_ids) > MAX_BATCH_GET:
        raise InvalidArgument([FieldViolation("product_ids", f"must name at most {MAX_BATCH_GET} products")])
    out = Violations()
    for index, product_id in enumerate(product_ids):
        if not product_id:
            out.add(f"product_ids[{index}]", "must not be empty")
        elif len(product_id) > MAX_ID:
            out.add(f"product_ids[{index}]", f"must be at most {MAX_ID} characters")
    raise_if_invalid(out)
    wanted = list(dict.fromkeys(product_ids))
    async with deps.uow() as uow:
        found = {product.product_id: product for product in await uow.products.get_many(wanted)}
    return ProductBatch([found[p] for p in wanted if p in found], [p for p in wanted if p not in found])


async def list_products(cmd: ListProducts, deps: Dependencies) -> ProductPage:
    query, page_token, tokens, cache = cmd.query, cmd.page_token, deps.page_tokens, deps.catalog_cache
    size = paging.page_size(cmd.page_size)
    # Keyset position: the last product_id of the previous page; products added meanwhile
    # never shift or repeat a page.
    position = tokens.decode("products", page_token, (str,), filters=query.filters())
    after: str | None = position[0] if position else None
    slot = await cache.page_slot(query, page_token, size)
    if slot is not None and (cached := await cache.get_page(slot)) is not None:
        return cached
    async with deps.uow() as uow:
        # One extra row tells whether another page follows, without a count.
        rows = await uow.products.list(query, after, size + 1)
    page_rows = rows[:size]
    next_token = ""
    if len(rows) > size:
        next_token = tokens.encode("products", [page_rows[-1].product_id], filters=query.filters())
    page = ProductPage(page_rows, next_token)
    if slot is not None:
        await cache.put_page(slot, page)
    return page
