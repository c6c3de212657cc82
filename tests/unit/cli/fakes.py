"""In-memory fakes of the three services' gRPC APIs, served on a loopback port, for the CLI's
unit tests: they keep what they were sent and answer like the services (errors with details)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from oms.notify.v1 import notify_pb2, notify_pb2_grpc
from oms.order.v1 import order_pb2, order_pb2_grpc

# How long a fake stream stays open after its script, unless the client cancels it first.
OPEN_STREAM_S = 10.0


def abort(context: grpc.ServicerContext, code: int, message: str, *details: Message) -> None:
    packed = []
    for detail in details:
        holder = any_pb2.Any()
        holder.Pack(detail)
        packed.append(holder)
    context.abort_with_status(rpc_status.to_status(status_pb2.Status(code=code, message=message, details=packed)))


def order(order_id: str, status: int = order_pb2.ORDER_STATUS_PENDING, version: int = 1) -> order_pb2.Order:
    return order_pb2.Order(
        order_id=order_id,
        customer_id="c-1",
        status=status,
        version=version,
        items=[
            order_pb2.OrderItem(
                product_id="p-1",
                quantity=2,
                product_name="Widget",
                unit_price={"currency_code": "EUR", "units": 12, "nanos": 500_000_000},
                line_total={"currency_code": "EUR", "units": 25},
            )
        ],
        total={"currency_code": "EUR", "units": 25},
    )


@dataclass
class Seen:
    """What the fakes were sent: requests per method and the authorization headers."""

    requests: dict[str, list[Message]] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)

    def note(self, method: str, request: Message, context: grpc.ServicerContext) -> None:
        self.requests.setdefault(method, []).append(request)
        self.tokens.extend(v for k, v in context.invocation_metadata() if k == "authorization")


class FakeOrders(order_pb2_grpc.OrderServiceServicer):
    PAGE = 2  # answers at most this many per page, whatever is asked: the CLI must page

    def __init__(self, seen: Seen) -> None:
        self.seen = seen
        self.orders = {f"o-{n}": order(f"o-{n}") for n in range(5)}
        # The states each WatchOrder call sends, one list per call (then it stays open).
        self.watch_scripts: list[list[order_pb2.Order]] = []
        self.watch_ends_early: set[int] = set()  # calls (by number) that end OK after their script

    def ListOrders(self, request: Any, context: Any) -> Any:
        self.seen.note("ListOrders", request, context)
        start = int(request.page_token or 0)
        ids = sorted(self.orders)[start : start + min(request.page_size or 50, self.PAGE)]
        following = start + len(ids)
        token = str(following) if following < len(self.orders) else ""
        return order_pb2.ListOrdersResponse(orders=[self.orders[i] for i in ids], next_page_token=token)

    def GetOrder(self, request: Any, context: Any) -> Any:
        self.seen.note("GetOrder", request, context)
        if request.order_id not in self.orders:
            abort(context, code_pb2.NOT_FOUND, f"order {request.order_id} not found")
        return order_pb2.GetOrderResponse(order=self.orders[request.order_id])

    def UpdateOrderStatus(self, request: Any, context: Any) -> Any:
        self.seen.note("UpdateOrderStatus", request, context)
        if request.status == order_pb2.ORDER_STATUS_PENDING:
            violation = error_details_pb2.BadRequest.FieldViolation(
                field="status", description="an order cannot go back to PENDING"
            )
            abort(
                context,
                code_pb2.INVALID_ARGUMENT,
                "invalid request: status",
                error_details_pb2.ErrorInfo(reason="INVALID_ARGUMENT", domain="oms"),
                error_details_pb2.BadRequest(field_violations=[violation]),
            )
        self.orders[request.order_id].status = request.status
        self.orders[request.order_id].status_reason = request.reason
        return order_pb2.UpdateOrderStatusResponse(order=self.orders[request.order_id])

    def CancelOrder(self, request: Any, context: Any) -> Any:
        self.seen.note("CancelOrder", request, context)
        self.orders[request.order_id].status = order_pb2.ORDER_STATUS_CANCELLED
        return order_pb2.CancelOrderResponse(order=self.orders[request.order_id])

    def WatchOrder(self, request: Any, context: Any) -> Iterator[Any]:
        self.seen.note("WatchOrder", request, context)
        number = len(self.seen.requests["WatchOrder"]) - 1
        for state in self.watch_scripts[number]:
            yield order_pb2.WatchOrderResponse(order=state)
        if number in self.watch_ends_early:
            return
        cancelled = threading.Event()
        context.add_callback(cancelled.set)
        cancelled.wait(OPEN_STREAM_S)


class FakeInventory(inventory_pb2_grpc.InventoryServiceServicer):
    def __init__(self, seen: Seen) -> None:
        self.seen = seen
        self.stock = {"p-1": inventory_pb2.Stock(product_id="p-1", quantity=10, reserved=3, available=7, version=4)}

    def GetStock(self, request: Any, context: Any) -> Any:
        self.seen.note("GetStock", request, context)
        if request.product_id not in self.stock:
            abort(context, code_pb2.NOT_FOUND, f"product {request.product_id} not found")
        return inventory_pb2.GetStockResponse(stock=self.stock[request.product_id])

    def AddStock(self, request: Any, context: Any) -> Any:
        self.seen.note("AddStock", request, context)
        stock = self.stock[request.product_id]
        stock.quantity += request.quantity
        stock.available += request.quantity
        stock.version += 1
        return inventory_pb2.AddStockResponse(stock=stock)

    def AuditStock(self, request: Any, context: Any) -> Any:
        self.seen.note("AuditStock", request, context)
        stock = self.stock[request.product_id]
        if request.expected_version != stock.version:
            failure = error_details_pb2.PreconditionFailure.Violation(
                type="STALE_VERSION", subject=f"stock/{stock.product_id}", description=f"version is {stock.version}"
            )
            abort(
                context,
                code_pb2.FAILED_PRECONDITION,
                "the stock changed since it was counted",
                error_details_pb2.PreconditionFailure(violations=[failure]),
            )
        stock.available = request.quantity - stock.reserved
        stock.quantity = request.quantity
        stock.version += 1
        return inventory_pb2.AuditStockResponse(stock=stock)

    def ListProducts(self, request: Any, context: Any) -> Any:
        self.seen.note("ListProducts", request, context)
        product = inventory_pb2.Product(
            product_id="p-1", name="Widget", price={"currency_code": "EUR", "units": 3}, active=True
        )
        return inventory_pb2.ListProductsResponse(products=[product])


class FakeNotify(notify_pb2_grpc.NotificationServiceServicer):
    def __init__(self, seen: Seen) -> None:
        self.seen = seen
        self.failed = notify_pb2.Notification(
            notification_id="n-1",
            order_id="o-1",
            event_type="oms.order.v1.OrderConfirmed",
            recipient="ada@example.com",
            status=notify_pb2.NOTIFICATION_STATUS_FAILED,
            attempts=3,
            last_error="SMTP 451",
        )

    def ListNotifications(self, request: Any, context: Any) -> Any:
        self.seen.note("ListNotifications", request, context)
        return notify_pb2.ListNotificationsResponse(notifications=[self.failed])

    def RetryNotification(self, request: Any, context: Any) -> Any:
        self.seen.note("RetryNotification", request, context)
        self.failed.status = notify_pb2.NOTIFICATION_STATUS_PENDING
        return notify_pb2.RetryNotificationResponse(notification=self.failed)


@dataclass
class FakeMesh:
    address: str
    seen: Seen
    orders: FakeOrders
    inventory: FakeInventory
    notify: FakeNotify

    def targets(self) -> dict[str, str]:
        """The environment that points every CLI command at the fakes."""
        return {f"OMS_CLI_{name}_ADDR": self.address for name in ("ORDER", "INVENTORY", "NOTIFY")}


def serve() -> tuple[grpc.Server, FakeMesh]:
    seen = Seen()
    fakes = FakeOrders(seen), FakeInventory(seen), FakeNotify(seen)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    order_pb2_grpc.add_OrderServiceServicer_to_server(fakes[0], server)
    inventory_pb2_grpc.add_InventoryServiceServicer_to_server(fakes[1], server)
    notify_pb2_grpc.add_NotificationServiceServicer_to_server(fakes[2], server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, FakeMesh(f"127.0.0.1:{port}", seen, *fakes)
