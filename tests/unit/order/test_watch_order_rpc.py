"""WatchOrder over real gRPC (in-process server, fake order table): caps, lifetime, token expiry."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from mesh.auth.authorization import rules
from mesh.auth.interceptor import AuthServerInterceptor
from mesh.auth.minting import mint_token
from mesh.auth.settings import AuthSettings
from mesh.auth.verification import TokenVerifier
from mesh.serving.grpc_errors import ErrorInterceptor
from mesh.serving.stream_slots import StreamSlots
from mesh.storage.paging import PageTokens
from oms.order.v1 import order_pb2, order_pb2_grpc
from order_svc.adapters.metrics import PrometheusMetrics
from order_svc.adapters.order_cache import NoOrderCache
from order_svc.adapters.price_book import PriceBook
from order_svc.adapters.watch_hub import WatchHub
from order_svc.entrypoints.order_servicer import STREAM_END_KEY, OrderServicer
from order_svc.service_layer.ports import Dependencies, UnitOfWork
from order_svc.service_layer.watching import OrderFeeds, Watching
from testkit.wait import eventually
from tests.unit.order.test_watching import CountingOrders

AUTH = AuthSettings(jwt_secret="watch-rpc-unit-test-secret-long-enough-for-hs256", jwks=None, leeway_s=0)


def _no_database() -> UnitOfWork:
    raise AssertionError("WatchOrder must read through its feed, not a unit of work of its own")


class _NoInventory:
    async def available(self, product_ids: object, *, metadata: object = ()) -> None:
        return None

    async def products(self, product_ids: object, *, metadata: object = ()) -> None:
        return None


@dataclass
class Server:
    stub: order_pb2_grpc.OrderServiceStub
    orders: CountingOrders
    slots: StreamSlots


@contextlib.asynccontextmanager
async def start(lifetime_s: float = 60.0, per_principal: int = 2, total: int = 3) -> AsyncIterator[Server]:
    orders = CountingOrders()
    slots = StreamSlots(max_total=total, max_per_key=per_principal, what="WatchOrder streams")
    watching = Watching(
        feeds=OrderFeeds(orders.read, WatchHub("postgresql://unused"), refresh_s=60),
        slots=slots,
        max_lifetime_s=lifetime_s,
    )
    deps = Dependencies(
        uow=_no_database,
        inventory=_NoInventory(),
        cache=NoOrderCache(),
        price_book=PriceBook(),
        metrics=PrometheusMetrics(),
    )
    server = grpc.aio.server(interceptors=[AuthServerInterceptor(TokenVerifier(AUTH), rules()), ErrorInterceptor()])
    order_pb2_grpc.add_OrderServiceServicer_to_server(OrderServicer(deps, watching, PageTokens(b"k" * 32)), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Server(order_pb2_grpc.OrderServiceStub(channel), orders, slots)
    finally:
        await server.stop(None)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    async with start() as running:
        yield running


def bearer(subject: str, ttl_s: int = 3600) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {mint_token(subject, ['customer'], AUTH, ttl_s=ttl_s)}"),)


async def opened(server: Server, order_id: str, subject: str) -> Any:
    call = server.stub.WatchOrder(order_pb2.WatchOrderRequest(order_id=order_id), metadata=bearer(subject))
    first = await call.read()
    assert first.order.order_id == order_id
    return call


def quota_of(error: grpc.aio.AioRpcError) -> tuple[list[str], float]:
    """The QuotaFailure subjects and the RetryInfo delay of a RESOURCE_EXHAUSTED status."""
    rich = dict(error.trailing_metadata() or ())["grpc-status-details-bin"]
    assert isinstance(rich, bytes)
    status = status_pb2.Status.FromString(rich)
    subjects: list[str] = []
    delay = -1.0
    for detail in status.details:
        quota, retry = error_details_pb2.QuotaFailure(), error_details_pb2.RetryInfo()
        if detail.Unpack(quota):
            subjects += [v.subject for v in quota.violations]
        elif detail.Unpack(retry):
            delay = retry.retry_delay.ToTimedelta().total_seconds()
    return subjects, delay


async def slots_free(server: Server, left: int = 0) -> None:
    async def freed() -> bool:
        return server.slots.total == left

    await eventually(freed, timeout_s=5, interval_s=0.01, what=f"{left} stream slots in use")


async def refused(server: Server, order_id: str, subject: str) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await opened(server, order_id, subject)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, caught.value
    return caught.value


async def test_streams_are_capped_per_caller_and_per_process(server: Server) -> None:
    order_id = server.orders.add("c-1")
    mine = [await opened(server, order_id, "c-1") for _ in range(2)]
    error = await refused(server, order_id, "c-1")
    assert quota_of(error) == (["caller"], 5.0)
    other = await opened(server, server.orders.add("c-2"), "c-2")  # another caller is not affected...
    error = await refused(server, server.orders.add("c-3"), "c-3")  # ...until the process cap (3)
    assert quota_of(error)[0] == ["process"]
    # A stream that ends gives its slot back.
    mine[0].cancel()
    await slots_free(server, left=2)
    mine[0] = await opened(server, order_id, "c-1")
    for call in [*mine, other]:
        call.cancel()


async def test_a_stream_ends_ok_at_its_lifetime_whatever_deadline_the_client_sets() -> None:
    async with start(lifetime_s=0.5) as server:
        order_id = server.orders.add("c-1")
        started = time.monotonic()
        call = server.stub.WatchOrder(
            order_pb2.WatchOrderRequest(order_id=order_id), metadata=bearer("c-1"), timeout=3600
        )
        replies = [reply async for reply in call]
        assert time.monotonic() - started < 5
        assert await call.code() == grpc.StatusCode.OK
        assert [r.order.status for r in replies] == [order_pb2.ORDER_STATUS_PENDING]
        assert dict(await call.trailing_metadata())[STREAM_END_KEY] == "max-lifetime"
        await slots_free(server)


async def test_a_stream_ends_unauthenticated_when_its_token_expires(server: Server) -> None:
    order_id = server.orders.add("c-1")
    call = server.stub.WatchOrder(order_pb2.WatchOrderRequest(order_id=order_id), metadata=bearer("c-1", ttl_s=2))
    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in call:
            pass
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "token expired" in (caught.value.details() or "")
    assert time.monotonic() - started < 5
    await slots_free(server)
