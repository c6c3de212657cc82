"""Requests refused before the handler: bytes that do not decode, and fields past their bounds."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from mesh.serving.grpc_errors import MAX_LISTED_VIOLATIONS, ErrorInterceptor, UndecodableRequestInterceptor
from oms.order.v1 import order_pb2

SERVICE = "oms.order.v1.OrderService"


class Orders:
    def __init__(self) -> None:
        self.calls = 0

    async def get(self, request: order_pb2.GetOrderRequest, context: grpc.aio.ServicerContext) -> order_pb2.Order:
        self.calls += 1
        return order_pb2.Order(order_id=request.order_id)

    async def watch(
        self, request: order_pb2.WatchOrderRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[order_pb2.Order]:
        self.calls += 1
        yield order_pb2.Order(order_id=request.order_id)


@pytest.fixture
async def served() -> AsyncIterator[tuple[grpc.aio.Channel, Orders]]:
    orders = Orders()
    server = grpc.aio.server(interceptors=[UndecodableRequestInterceptor(), ErrorInterceptor()])
    handlers = {
        "GetOrder": grpc.unary_unary_rpc_method_handler(
            orders.get,
            request_deserializer=order_pb2.GetOrderRequest.FromString,
            response_serializer=order_pb2.Order.SerializeToString,
        ),
        "WatchOrder": grpc.unary_stream_rpc_method_handler(
            orders.watch,
            request_deserializer=order_pb2.WatchOrderRequest.FromString,
            response_serializer=order_pb2.Order.SerializeToString,
        ),
        "PlaceOrder": grpc.unary_unary_rpc_method_handler(
            orders.get,
            request_deserializer=order_pb2.PlaceOrderRequest.FromString,
            response_serializer=order_pb2.Order.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield channel, orders
    finally:
        await channel.close()
        await server.stop(grace=None)


def details(error: grpc.aio.AioRpcError) -> tuple[error_details_pb2.ErrorInfo, error_details_pb2.BadRequest]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    info, bad = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    found = {detail.type_url.rsplit("/", 1)[-1] for detail in status.details}
    assert found == {"google.rpc.ErrorInfo", "google.rpc.BadRequest"}
    for detail in status.details:
        detail.Unpack(info) if detail.Is(info.DESCRIPTOR) else detail.Unpack(bad)
    return info, bad


@pytest.mark.parametrize("method", ["GetOrder", "WatchOrder"])
async def test_bytes_that_are_not_protobuf_are_invalid_argument(
    served: tuple[grpc.aio.Channel, Orders], method: str
) -> None:
    channel, orders = served
    path = f"/{SERVICE}/{method}"
    call = (channel.unary_stream if method == "WatchOrder" else channel.unary_unary)(
        path, request_serializer=None, response_deserializer=None
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        result = call(b"\xff\xff\xff", timeout=5)
        if method == "WatchOrder":
            async for _ in result:
                pass
        else:
            await result
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "DecodeError" not in (caught.value.details() or "")
    info, _ = details(caught.value)
    assert info.reason == "UNDECODABLE_REQUEST"
    assert info.metadata["method"] == path
    assert orders.calls == 0


async def test_a_field_past_its_bound_is_refused_before_the_handler(served: tuple[grpc.aio.Channel, Orders]) -> None:
    channel, orders = served
    get = channel.unary_unary(
        f"/{SERVICE}/GetOrder",
        request_serializer=order_pb2.GetOrderRequest.SerializeToString,
        response_deserializer=order_pb2.Order.FromString,
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await get(order_pb2.GetOrderRequest(order_id="x" * 10_000), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(caught.value.details() or "") < 300
    _, bad = details(caught.value)
    assert [(v.field, v.description) for v in bad.field_violations] == [
        ("order_id", "at most 128 characters, got 10000")
    ]
    assert orders.calls == 0
    assert (await get(order_pb2.GetOrderRequest(order_id="o-1"), timeout=5)).order_id == "o-1"
    assert orders.calls == 1


async def test_many_violations_are_listed_up_to_a_limit(served: tuple[grpc.aio.Channel, Orders]) -> None:
    channel, _ = served
    place = channel.unary_unary(
        f"/{SERVICE}/PlaceOrder",
        request_serializer=order_pb2.PlaceOrderRequest.SerializeToString,
        response_deserializer=order_pb2.Order.FromString,
    )
    lines = [order_pb2.OrderLine(product_id="", quantity=0)] * 100
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await place(order_pb2.PlaceOrderRequest(customer_id="c", items=lines), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    _, bad = details(caught.value)
    assert len(bad.field_violations) == MAX_LISTED_VIOLATIONS + 1
    assert bad.field_violations[-1].description == f"and {200 - MAX_LISTED_VIOLATIONS} more violations"
    assert len(caught.value.details() or "") < 400
