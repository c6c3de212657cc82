"""``oms products list``: the inventory service's catalog."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mesh.cli.client import Client, connection_options, paged, positive_int
from mesh.cli.output import money, print_json, print_table, short, to_dict
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc


def register(commands: Any) -> None:
    products = commands.add_parser(
        "products", help="the catalog", description="The catalog (the inventory service)."
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = products.add_parser("list", parents=[connection_options("inventory")], help="list products")
    active = listing.add_mutually_exclusive_group()
    active.add_argument("--active", dest="active", action="store_true", default=None, help="only active ones")
    active.add_argument("--inactive", dest="active", action="store_false", help="only inactive ones")
    listing.add_argument("--name-contains", default="", help="only those whose name contains this")
    listing.add_argument("--limit", type=positive_int, default=100, help="at most this many (default 100)")
    listing.set_defaults(run=_list)


def _list(args: argparse.Namespace) -> int:
    def fetch(size: int, token: str) -> tuple[list[Any], str]:
        request = inventory_pb2.ListProductsRequest(page_size=size, page_token=token, name_contains=args.name_contains)
        if args.active is not None:
            request.active = args.active
        page = client.call("ListProducts", request)
        return list(page.products), page.next_page_token

    with Client.connect(args, "inventory", inventory_pb2_grpc.InventoryServiceStub) as client:
        products = paged(fetch, args.limit)
    if args.json:
        print_json({"products": [to_dict(p) for p in products]})
        return 0
    rows = [
        [p.product_id, short(p.name, 40), money(p.price), "yes" if p.active else "no", str(p.available_quantity)]
        for p in products
    ]
    print_table(["PRODUCT", "NAME", "PRICE", "ACTIVE", "AVAILABLE"], rows)
    sys.stdout.write(f"{len(products)} product(s)\n")
    return 0
