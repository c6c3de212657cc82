"""gRPC OrderService: translates requests to use cases and results to responses."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

import grpc

from mesh.errors import FieldViolation, InvalidArgument
from mesh.logs import about_order
from mesh.paging import PageTokens, page_size
from oms.order.v1 import order_pb2, order_pb2_grpc
from order_svc.adapters.proto_mapping import STATUS_FROM_PROTO, order_to_proto
from order_svc.adapters.repository import OrderPageKey
from order_svc.adapters.watch_hub import WatchHub
from order_svc.domain.placement import RequestedLine
from order_svc.domain.status import FINAL_STATUSES
from order_svc.entrypoints.caller import caller_of, metadata_value
from order_svc.service_layer import lifecycle
from order_svc.service_layer.placement import PlaceOrder, place_order
from order_svc.service_layer.ports import OrderDeps

# A watcher re-reads at least this often even without a notification.
WATCH_REFRESH_S = 5.0


class OrderServicer(order_pb2_grpc.OrderServiceServicer):
    def __init__(self, deps: OrderDeps, hub: WatchHub, page_tokens: PageTokens) -> None:
        self._deps = deps
        self._hub = hub
        self._tokens = page_tokens

    async def PlaceOrder(
        self, request: order_pb2.PlaceOrderRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.PlaceOrderResponse:
        command = PlaceOrder(
            customer_id=request.customer_id,
            lines=[RequestedLine(item.product_id, item.quantity) for item in request.items],
            idempotency_key=metadata_value(context, "idempotency-key"),
        )
        order = await place_order(command, caller_of(context), self._deps)
        about_order(order.order_id)
        return order_pb2.PlaceOrderResponse(order=order_to_proto(order))

    async def GetOrder(
        self, request: order_pb2.GetOrderRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.GetOrderResponse:
        _require_order_id(request.order_id)
        order = await lifecycle.get_order(request.order_id, caller_of(context), self._deps)
        return order_pb2.GetOrderResponse(order=order_to_proto(order))

    async def ListOrders(
        self, request: order_pb2.ListOrdersRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.ListOrdersResponse:
        # A token continues only the listing it came from: same customer, same status filter.
        filters: dict[str, str | int] = {"customer_id": request.customer_id, "status": request.status}
        position = self._tokens.decode("orders", request.page_token, (datetime, str), filters=filters)
        after = OrderPageKey(*position) if position is not None else None
        page = await lifecycle.list_orders(
            caller=caller_of(context),
            deps=self._deps,
            limit=page_size(request.page_size),
            after=after,
            customer_id=request.customer_id,
            status=STATUS_FROM_PROTO.get(request.status),
        )
        token = ""
        if page.next_key is not None:
            token = self._tokens.encode("orders", [page.next_key.created_at, page.next_key.order_id], filters=filters)
        return order_pb2.ListOrdersResponse(orders=[order_to_proto(o) for o in page.orders], next_page_token=token)

    async def UpdateOrderStatus(
        self, request: order_pb2.UpdateOrderStatusRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.UpdateOrderStatusResponse:
        _require_order_id(request.order_id)
        target = STATUS_FROM_PROTO.get(request.status)
        if target is None:
            raise InvalidArgument([FieldViolation("status", "must name the status to move to")])
        order = await lifecycle.change_status(request.order_id, target, request.reason, caller_of(context), self._deps)
        return order_pb2.UpdateOrderStatusResponse(order=order_to_proto(order))

    async def CancelOrder(
        self, request: order_pb2.CancelOrderRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.CancelOrderResponse:
        _require_order_id(request.order_id)
        order = await lifecycle.cancel_order(request.order_id, request.reason, caller_of(context), self._deps)
        return order_pb2.CancelOrderResponse(order=order_to_proto(order))

    async def WatchOrder(
        self, request: order_pb2.WatchOrderRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[order_pb2.WatchOrderResponse]:
        _require_order_id(request.order_id)
        caller = caller_of(context)
        # Subscribe before the first read so no change can slip between the two.
        async with self._hub.subscribe(request.order_id) as changed:
            order = await lifecycle.get_order(request.order_id, caller, self._deps, fresh=True)
            yield order_pb2.WatchOrderResponse(order=order_to_proto(order))
            seen = order.version
            while order.status not in FINAL_STATUSES:
                with contextlib.suppress(TimeoutError):
                    await _wait(changed, WATCH_REFRESH_S)
                changed.clear()
                order = await lifecycle.get_order(request.order_id, caller, self._deps, fresh=True)
                if order.version > seen:
                    seen = order.version
                    yield order_pb2.WatchOrderResponse(order=order_to_proto(order))


async def _wait(event: asyncio.Event, timeout_s: float) -> None:
    await asyncio.wait_for(event.wait(), timeout=timeout_s)


def _require(value: str, field: str) -> None:
    if not value.strip():
        raise InvalidArgument([FieldViolation(field, "must not be empty")])


def _require_order_id(order_id: str) -> None:
    _require(order_id, "order_id")
    about_order(order_id)
