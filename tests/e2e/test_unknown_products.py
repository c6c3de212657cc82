"""Orders naming many unknown products, across the real processes: refused fast with a bounded
INVALID_ARGUMENT, priced with one BatchGetProducts each, and the order service's circuit
breaker to inventory stays closed, so honest customers still get the stock pre-check."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from testkit.clients import Clients

# Well past the breaker's threshold (OMS_ORDER_BREAKER_FAILURES, 5 by default).
ORDERS = 12


async def test_orders_of_100_unknown_products_are_refused_fast_and_the_breaker_stays_closed(
    clients: Clients,
) -> None:
    customer = await clients.customer()
    loop = asyncio.get_running_loop()
    for _ in range(ORDERS):
        lines = [(f"nope-{uuid.uuid4().hex}", 1) for _ in range(100)]
        started = loop.time()
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await clients.place(customer, lines)
        # One call under the 0.25 s pre-check deadline, not 100 racing ones.
        assert loop.time() - started < 2.0
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        status = rpc_status.from_call(raised.value)  # type: ignore[arg-type]
        assert status is not None
        bad = error_details_pb2.BadRequest()
        [detail] = [d for d in status.details if d.Is(error_details_pb2.BadRequest.DESCRIPTOR)]
        detail.Unpack(bad)
        fields = [v.field for v in bad.field_violations]
        assert fields[:10] == [f"items[{i}].product_id" for i in range(10)]
        assert fields[10:] == ["items"]  # "90 more ...": the error fits gRPC's trailers

    # The pre-check still runs (an open breaker would skip it and accept the order as PENDING).
    scarce = await clients.product(stock=1)
    with pytest.raises(grpc.aio.AioRpcError) as short:
        await clients.place(customer, [(scarce, 5)])
    assert short.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "not enough stock" in (short.value.details() or "")
