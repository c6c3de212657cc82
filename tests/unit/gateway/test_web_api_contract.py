"""The web front end's API contract: web/openapi.json is the gateway's document now, and what the
shop calls without a sign-in is public by the declared rules.

(`npm run check:api`, in `make check`, also regenerates web/src/api/schema.d.ts from it and
compares; `tsc --noEmit` then fails on any page a contract change breaks.)
"""

from __future__ import annotations

import json
from pathlib import Path

from gateway.openapi_export import text
from mesh.auth.authorization import Access, rules

WEB = Path(__file__).resolve().parents[3] / "web"

# What the shop's catalog pages call before anyone signs in (web/src/shop/catalog.tsx).
SHOP_ANONYMOUS_CALLS = {
    ("get", "/products"): "/oms.inventory.v1.InventoryService/ListProducts",
    ("get", "/products/{product_id}"): "/oms.inventory.v1.InventoryService/GetProduct",
    ("get", "/products/{product_id}/stock"): "/oms.inventory.v1.InventoryService/GetStock",
}


def test_the_committed_openapi_document_is_the_gateways() -> None:
    committed = (WEB / "openapi.json").read_text(encoding="utf-8")
    assert committed == text(), "web/openapi.json is stale: run `npm run gen:api` and commit the result"


def test_the_catalog_the_shop_browses_is_public() -> None:
    document = json.loads((WEB / "openapi.json").read_text(encoding="utf-8"))
    declared = rules()
    for (method, path), rpc in SHOP_ANONYMOUS_CALLS.items():
        assert declared[rpc].access is Access.PUBLIC, rpc
        operation = document["paths"][path][method]
        assert operation["x-oms-access"] == "public", path
        assert {} in operation["security"], f"{path}: a token must be optional"
    assert declared["/oms.inventory.v1.InventoryService/BatchGetProducts"].access is Access.PUBLIC
