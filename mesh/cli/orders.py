"""``oms orders list|show|watch|cancel|set-status``: the order service's OrderService."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from mesh.cli.choices import EnumChoice
from mesh.cli.client import Client, connection_options, paged, positive_int
from mesh.cli.errors import INTERRUPTED
from mesh.cli.output import (
    money,
    print_fields,
    print_json,
    print_json_line,
    print_table,
    short,
    to_dict,
    when,
)
from oms.order.v1 import order_pb2, order_pb2_grpc

ORDER_STATUS = EnumChoice(order_pb2.OrderStatus, "ORDER_STATUS_")
# No transition leaves these (order_svc.domain.status.FINAL_STATUSES; the CLI reads the contract,
# not the service): `orders watch` stops at them.
FINAL = frozenset({order_pb2.ORDER_STATUS_REJECTED, order_pb2.ORDER_STATUS_DELIVERED, order_pb2.ORDER_STATUS_CANCELLED})
# Before a stream that ended with nothing is opened again.
REOPEN_PAUSE_S = 1.0
STATUSES = ", ".join(ORDER_STATUS.names)


def status_text(value: int) -> str:
    return ORDER_STATUS.label(value)


def register(commands: Any) -> None:
    orders = commands.add_parser(
        "orders", help="list, inspect, watch and change orders", description="Orders (the order service)."
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    options = connection_options("order")
    listing = orders.add_parser("list", parents=[options], help="list orders (every customer's, or --customer's)")
    listing.add_argument("--customer", default="", help="one customer's orders (default: everyone's, as admin)")
    listing.add_argument("--status", type=ORDER_STATUS, help=f"only in this status ({STATUSES})")
    listing.add_argument("--limit", type=positive_int, default=50, help="at most this many (default 50)")
    listing.set_defaults(run=_list)
    show = orders.add_parser("show", parents=[options], help="one order with its items and shortfalls")
    show.add_argument("order_id")
    show.set_defaults(run=_show)
    watch = orders.add_parser(
        "watch", parents=[options], help="follow an order's changes until a final state (or Ctrl-C)"
    )
    watch.add_argument("order_id")
    watch.set_defaults(run=_watch)
    cancel = orders.add_parser("cancel", parents=[options], help="cancel an order (its stock is released)")
    cancel.add_argument("order_id")
    cancel.add_argument("--reason", default="", help="why (kept on the order)")
    cancel.set_defaults(run=_cancel)
    set_status = orders.add_parser(
        "set-status", parents=[options], help="move an order to a status (e.g. paid, shipped, delivered)"
    )
    set_status.add_argument("order_id")
    set_status.add_argument("status", type=ORDER_STATUS, metavar="STATUS", help=STATUSES)
    set_status.add_argument("--reason", default="", help="why (kept on the order)")
    set_status.set_defaults(run=_set_status)


def _connect(args: argparse.Namespace) -> Client:
    return Client.connect(args, "order", order_pb2_grpc.OrderServiceStub)


def _list(args: argparse.Namespace) -> int:
    def fetch(size: int, token: str) -> tuple[list[Any], str]:
        request = order_pb2.ListOrdersRequest(
            page_size=size,
            page_token=token,
            customer_id=args.customer,
            status=args.status or order_pb2.ORDER_STATUS_UNSPECIFIED,
        )
        page = client.call("ListOrders", request)
        return list(page.orders), page.next_page_token

    with _connect(args) as client:
        orders = paged(fetch, args.limit)
    if args.json:
        print_json({"orders": [to_dict(o) for o in orders]})
        return 0
    print_table(["ORDER", "CUSTOMER", "STATUS", "ITEMS", "TOTAL", "CREATED (UTC)", "REASON"], map(order_row, orders))
    sys.stdout.write(f"{len(orders)} order(s)\n")
    return 0


def order_row(order: order_pb2.Order) -> list[str]:
    quantity = sum(item.quantity for item in order.items)
    return [
        order.order_id,
        order.customer_id,
        status_text(order.status),
        str(quantity),
        money(order.total),
        when(order, "create_time"),
        short(order.status_reason, 40),
    ]


def _show(args: argparse.Namespace) -> int:
    with _connect(args) as client:
        order = client.call("GetOrder", order_pb2.GetOrderRequest(order_id=args.order_id)).order
    _print_order(order, args.json)
    return 0


def _print_order(order: order_pb2.Order, as_json: bool) -> None:
    if as_json:
        print_json(to_dict(order))
        return
    print_fields(
        [
            ("order", order.order_id),
            ("customer", order.customer_id),
            ("status", status_text(order.status)),
            ("reason", order.status_reason),
            ("total", money(order.total)),
            ("created (UTC)", when(order, "create_time")),
            ("updated (UTC)", when(order, "update_time")),
            ("version", str(order.version)),
        ]
    )
    sys.stdout.write("\n")
    items = [
        [i.product_id, i.product_name, str(i.quantity), money(i.unit_price), money(i.line_total)] for i in order.items
    ]
    print_table(["PRODUCT", "NAME", "QUANTITY", "UNIT PRICE", "LINE TOTAL"], items)
    if order.shortfalls:
        sys.stdout.write("\nshort of stock:\n")
        rows = [[s.product_id, str(s.requested), str(s.available)] for s in order.shortfalls]
        print_table(["PRODUCT", "REQUESTED", "AVAILABLE"], rows)


def _watch(args: argparse.Namespace) -> int:
    """Prints each state the stream sends; a stream the server ends before a final state (it
    bounds how long one stays open) is opened again."""
    request = order_pb2.WatchOrderRequest(order_id=args.order_id)
    with _connect(args) as client:
        try:
            last: tuple[int, int] | None = None
            while True:
                updates = 0
                for reply in client.stream("WatchOrder", request):
                    updates += 1
                    order = reply.order
                    if (order.status, order.version) != last:  # a reopened stream repeats the current state
                        last = (order.status, order.version)
                        _print_update(order, args.json)
                    if order.status in FINAL:
                        return 0
                if not updates:  # never expected (a stream starts with the current state): no busy loop
                    time.sleep(REOPEN_PAUSE_S)
        except KeyboardInterrupt:
            return INTERRUPTED


def _print_update(order: order_pb2.Order, as_json: bool) -> None:
    if as_json:
        print_json_line(to_dict(order))
        return
    line = f"{when(order, 'update_time')}  {order.order_id}  {status_text(order.status)}"
    if order.status_reason:
        line += f"  ({short(order.status_reason)})"
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _cancel(args: argparse.Namespace) -> int:
    request = order_pb2.CancelOrderRequest(order_id=args.order_id, reason=args.reason)
    with _connect(args) as client:
        order = client.call("CancelOrder", request).order
    _print_order(order, args.json)
    return 0


def _set_status(args: argparse.Namespace) -> int:
    request = order_pb2.UpdateOrderStatusRequest(order_id=args.order_id, status=args.status, reason=args.reason)
    with _connect(args) as client:
        order = client.call("UpdateOrderStatus", request).order
    _print_order(order, args.json)
    return 0
