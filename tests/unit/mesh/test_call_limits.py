"""The per-caller cap on unary calls in flight: RESOURCE_EXHAUSTED with QuotaFailure beyond it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from mesh.auth.authorization import rules
from mesh.auth.interceptor import AuthServerInterceptor
from mesh.auth.minting import mint_token
from mesh.auth.settings import AuthSettings
from mesh.auth.verification import TokenVerifier
from mesh.serving.call_limits import CALLS_REFUSED, CallLimitInterceptor
from mesh.serving.grpc_errors import ErrorInterceptor
from oms.order.v1 import order_pb2
from testkit.wait import eventually

SETTINGS = AuthSettings(jwt_secret="call-limits-unit-test-secret-long-enough-for-hs256", jwks=None)
SERVICE = "oms.order.v1.OrderService"
GET_ORDER = f"/{SERVICE}/GetOrder"
LIMIT = 2


@dataclass
class SlowOrders:
    """GetOrder of order "slow" waits until released; every other order answers at once."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0

    async def get(
        self, request: order_pb2.GetOrderRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.GetOrderResponse:
        if request.order_id == "slow":
            self.waiting += 1
            await self.release.wait()
        return order_pb2.GetOrderResponse(order=order_pb2.Order(order_id=request.order_id))

    async def watch(
        self, request: order_pb2.WatchOrderRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[order_pb2.WatchOrderResponse]:
        yield order_pb2.WatchOrderResponse(order=order_pb2.Order(order_id=request.order_id))


@pytest.fixture
async def served() -> AsyncIterator[tuple[grpc.aio.Channel, SlowOrders]]:
    orders = SlowOrders()
    # The order of mesh.serving.server: auth, then the error mapping, then the cap closest to the handler.
    server = grpc.aio.server(
        interceptors=[
            AuthServerInterceptor(TokenVerifier(SETTINGS), rules()),
            ErrorInterceptor(),
            CallLimitInterceptor("test", LIMIT),
        ]
    )
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        "GetOrder": grpc.unary_unary_rpc_method_handler(
            orders.get,
            request_deserializer=order_pb2.GetOrderRequest.FromString,
            response_serializer=order_pb2.GetOrderResponse.SerializeToString,
        ),
        "WatchOrder": grpc.unary_stream_rpc_method_handler(
            orders.watch,
            request_deserializer=order_pb2.WatchOrderRequest.FromString,
            response_serializer=order_pb2.WatchOrderResponse.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, handlers)])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield channel, orders
    finally:
        orders.release.set()
        await channel.close()
        await server.stop(None)


def metadata(subject: str, *roles: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {mint_token(subject, roles or ('customer',), SETTINGS)}"),)


def get_order(channel: grpc.aio.Channel) -> grpc.aio.UnaryUnaryMultiCallable:  # type: ignore[type-arg]
    return channel.unary_unary(
        GET_ORDER,
        request_serializer=order_pb2.GetOrderRequest.SerializeToString,
        response_deserializer=order_pb2.GetOrderResponse.FromString,
    )


async def waiting(orders: SlowOrders, count: int) -> None:
    async def reached() -> bool:
        return orders.waiting == count

    await eventually(reached, timeout_s=5, interval_s=0.01, what=f"{count} slow calls in the handler")


async def test_calls_beyond_the_cap_are_refused_and_the_cap_is_per_caller(
    served: tuple[grpc.aio.Channel, SlowOrders],
) -> None:
    channel, orders = served
    call = get_order(channel)
    refused_before = CALLS_REFUSED.labels("test", GET_ORDER)._value.get()
    held = [
        asyncio.ensure_future(call(order_pb2.GetOrderRequest(order_id="slow"), metadata=metadata("c-busy")))
        for _ in range(LIMIT)
    ]
    try:
        await waiting(orders, LIMIT)

        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call(order_pb2.GetOrderRequest(order_id="o-1"), metadata=metadata("c-busy"), timeout=5)
        assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        status = rpc_status.from_call(refused.value)
        assert status is not None
        kinds = {detail.type_url.rsplit("/", 1)[-1]: detail for detail in status.details}
        quota = error_details_pb2.QuotaFailure()
        kinds["google.rpc.QuotaFailure"].Unpack(quota)
        assert quota.violations[0].description == f"at most {LIMIT} open calls per caller"
        info = error_details_pb2.ErrorInfo()
        kinds["google.rpc.ErrorInfo"].Unpack(info)
        assert info.reason == "TOO_MANY_CALLS"
        assert "google.rpc.RetryInfo" in kinds
        assert CALLS_REFUSED.labels("test", GET_ORDER)._value.get() == refused_before + 1

        # Another caller is not held up by this one's calls.
        other = await call(order_pb2.GetOrderRequest(order_id="o-2"), metadata=metadata("c-other"), timeout=5)
        assert other.order.order_id == "o-2"
        # Streams are not counted: the busy caller may still watch.
        watch = channel.unary_stream(
            f"/{SERVICE}/WatchOrder",
            request_serializer=order_pb2.WatchOrderRequest.SerializeToString,
            response_deserializer=order_pb2.WatchOrderResponse.FromString,
        )
        replies = [r async for r in watch(order_pb2.WatchOrderRequest(order_id="o-3"), metadata=metadata("c-busy"))]
        assert [r.order.order_id for r in replies] == ["o-3"]
    finally:
        orders.release.set()
        results = await asyncio.gather(*held, return_exceptions=True)
    assert all(isinstance(r, order_pb2.GetOrderResponse) for r in results), results
    # The slots came back: the caller is served again.
    again = await call(order_pb2.GetOrderRequest(order_id="o-4"), metadata=metadata("c-busy"), timeout=5)
    assert again.order.order_id == "o-4"


async def test_the_mesh_services_own_calls_are_not_capped(served: tuple[grpc.aio.Channel, SlowOrders]) -> None:
    channel, orders = served
    call = get_order(channel)
    held = [
        asyncio.ensure_future(call(order_pb2.GetOrderRequest(order_id="slow"), metadata=metadata("order", "service")))
        for _ in range(LIMIT + 2)
    ]
    try:
        # One service calls on behalf of many callers (each capped where they came in).
        await waiting(orders, LIMIT + 2)
    finally:
        orders.release.set()
        with contextlib.suppress(grpc.aio.AioRpcError):
            await asyncio.gather(*held)
    assert all(task.result().order.order_id == "slow" for task in held)
