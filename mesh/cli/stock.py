"""``oms stock show|add|audit``: the inventory service's stock levels."""

from __future__ import annotations

import argparse
from typing import Any

from mesh.cli.client import Client, connection_options, positive_int
from mesh.cli.output import print_json, print_table, to_dict, when
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc


def register(commands: Any) -> None:
    stock = commands.add_parser(
        "stock", help="show and change stock levels", description="Stock levels (the inventory service)."
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    options = connection_options("inventory")
    show = stock.add_parser("show", parents=[options], help="on hand, reserved and available, per product")
    show.add_argument("product_ids", nargs="+", metavar="PRODUCT_ID")
    show.set_defaults(run=_show)
    add = stock.add_parser("add", parents=[options], help="receive goods: add to a product's stock on hand")
    add.add_argument("product_id")
    add.add_argument("quantity", type=positive_int, help="how many arrived")
    add.add_argument("--reason", default="", help="why (kept in the stock journal)")
    add.set_defaults(run=_add)
    audit = stock.add_parser(
        "audit",
        parents=[options],
        help="set the stock on hand to a counted quantity",
        description="Sets a product's stock on hand to what was counted. The count applies only to the "
        "stock version it was made against: --expected-version (default: the version read just before), "
        "so a change in between is refused instead of overwritten.",
    )
    audit.add_argument("product_id")
    audit.add_argument("quantity", type=non_negative_int, help="the counted quantity on hand")
    audit.add_argument("--expected-version", type=non_negative_int, help="the stock version the count is of")
    audit.add_argument("--reason", default="", help="why (kept in the stock journal)")
    audit.set_defaults(run=_audit)


def non_negative_int(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return int(text)


def _connect(args: argparse.Namespace) -> Client:
    return Client.connect(args, "inventory", inventory_pb2_grpc.InventoryServiceStub)


def _show(args: argparse.Namespace) -> int:
    with _connect(args) as client:
        stocks = [
            client.call("GetStock", inventory_pb2.GetStockRequest(product_id=product_id)).stock
            for product_id in args.product_ids
        ]
    _print_stocks(stocks, args.json)
    return 0


def _print_stocks(stocks: list[inventory_pb2.Stock], as_json: bool) -> None:
    if as_json:
        print_json({"stocks": [to_dict(s) for s in stocks]})
        return
    rows = [
        [s.product_id, str(s.quantity), str(s.reserved), str(s.available), str(s.version), when(s, "update_time")]
        for s in stocks
    ]
    print_table(["PRODUCT", "ON HAND", "RESERVED", "AVAILABLE", "VERSION", "UPDATED (UTC)"], rows)


def _add(args: argparse.Namespace) -> int:
    request = inventory_pb2.AddStockRequest(product_id=args.product_id, quantity=args.quantity, reason=args.reason)
    with _connect(args) as client:
        stock = client.call("AddStock", request).stock
    _print_stocks([stock], args.json)
    return 0


def _audit(args: argparse.Namespace) -> int:
    with _connect(args) as client:
        version = args.expected_version
        if version is None:
            version = client.call("GetStock", inventory_pb2.GetStockRequest(product_id=args.product_id)).stock.version
        request = inventory_pb2.AuditStockRequest(
            product_id=args.product_id, quantity=args.quantity, expected_version=version, reason=args.reason
        )
        stock = client.call("AuditStock", request).stock
    _print_stocks([stock], args.json)
    return 0
