"""gRPC OrderService: translates requests to use cases and results to responses."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime

import grpc

from mesh.auth.principal import SYNTHETIC_ADMIN, current_principal
from mesh.serving.errors import InvalidArgument, Unauthenticated
from mesh.serving.stream_slots import stream_end
from mesh.serving.wire import metadata_value
from mesh.storage.paging import PageTokens, page_size
from mesh.telemetry.logs import about_order
from mesh.values.violations import FieldViolation
from oms.order.v1 import order_pb2, order_pb2_grpc
from order_svc.adapters.proto_mapping import STATUS_FROM_PROTO, order_to_proto
from order_svc.domain.model import Order
from order_svc.domain.placement import RequestedLine
from order_svc.domain.status import FINAL_STATUSES
from order_svc.entrypoints.caller import caller_of
from order_svc.service_layer import lifecycle
from order_svc.service_layer.placement import PlaceOrder, place_order
from order_svc.service_layer.ports import Dependencies, OrderPageKey
from order_svc.service_layer.watching import Watching, follow

# Trailer of a WatchOrder stream ended by its maximum lifetime: the client watches again.
STREAM_END_KEY = "oms-stream-end"


class OrderServicer(order_pb2_grpc.OrderServiceServicer):
    def __init__(self, deps: Dependencies, watching: Watching, page_tokens: PageTokens) -> None:
        self._deps = deps
        self._watching = watching
        self._tokens = page_tokens

    async def PlaceOrder(
        self, request: order_pb2.PlaceOrderRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.PlaceOrderResponse:
        command = PlaceOrder(
            customer_id=request.customer_id,
            lines=[RequestedLine(item.product_id, item.quantity) for item in request.items],
            idempotency_key=metadata_value(context.invocation_metadata(), "idempotency-key") or "",
            payment_method=request.payment_method.strip(),
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
        """Streams the order until it is final (OK), its lifetime is over (OK, last order not
        final, trailer ``oms-stream-end: max-lifetime``) or the token expires (UNAUTHENTICATED)."""
        _require_order_id(request.order_id)
        principal = current_principal() or SYNTHETIC_ADMIN
        caller = caller_of(context)
        loop = asyncio.get_running_loop()
        end = stream_end(
            loop_now=loop.time(),
            wall_now=time.time(),
            lifetime_s=self._watching.max_lifetime_s,
            token_expires_at=principal.expires_at,
        )
        # With auth disabled everyone is the same synthetic admin: only the process cap applies.
        slot_key = None if principal is SYNTHETIC_ADMIN else principal.id
        with self._watching.slots.claim(slot_key):
            last: Order | None = None
            async for order in follow(request.order_id, caller, self._watching.feeds, until=end.at):
                last = order
                yield order_pb2.WatchOrderResponse(order=order_to_proto(order))
            if last is None or last.status in FINAL_STATUSES:
                return
            if end.token_expired:
                raise Unauthenticated("token expired: watch again with a fresh token")
            # Added to what is set already (the mesh's traceresponse), not in its place.
            context.set_trailing_metadata((*(context.trailing_metadata() or ()), (STREAM_END_KEY, "max-lifetime")))


def _require(value: str, field: str) -> None:
    if not value.strip():
        raise InvalidArgument([FieldViolation(field, "must not be empty")])


def _require_order_id(order_id: str) -> None:
    _require(order_id, "order_id")
    about_order(order_id)
