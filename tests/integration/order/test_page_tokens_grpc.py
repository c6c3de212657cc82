"""ListOrders and ListCustomers over gRPC against the composed order service on a real database:
their page tokens continue a listing, and any forged, cut, re-signed or re-used token is a clean
INVALID_ARGUMENT on page_token, never INTERNAL (formerly IndexError, TypeError, or PostgreSQL's
"operator does not exist: text < integer")."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from mesh.auth.settings import AuthSettings
from mesh.messaging.kafka import Topics
from mesh.serving.server import serve
from mesh.settings.common import KafkaSettings, RedisSettings
from mesh.storage.engine import create_engine, session_factory
from mesh.storage.paging import PageTokens, PageTokenSettings
from oms.order.v1 import customer_pb2, customer_pb2_grpc, order_pb2, order_pb2_grpc
from order_svc.adapters.unit_of_work import SqlUnitOfWork
from order_svc.bootstrap import bootstrap
from order_svc.domain.model import Order, OrderLine
from order_svc.settings import Config, OrderSettings
from testkit.infra import Infra

if TYPE_CHECKING:
    from oms.order.v1.customer_pb2_grpc import CustomerServiceAsyncStub
    from oms.order.v1.order_pb2_grpc import OrderServiceAsyncStub

pytestmark = pytest.mark.integration

KEY = "integration-test-page-token-key-0123456789"


@dataclass
class OrderApi:
    orders: OrderServiceAsyncStub
    customers: CustomerServiceAsyncStub
    add_order: Callable[[str], Awaitable[None]]


@pytest.fixture
async def api(
    database_factory: Callable[[str], Awaitable[str]], kafka: KafkaSettings, infra: Infra
) -> AsyncIterator[OrderApi]:
    url = await database_factory("order_svc")
    settings = OrderSettings(
        database_url=url, grpc_port=0, metrics_port=0, migrate_on_start=False, run_workers=False, run_relay=False
    )
    config = Config(
        settings,
        kafka,
        RedisSettings(url=infra.redis_url),
        AuthSettings(enabled=False),
        PageTokenSettings(key=KEY),  # type: ignore[arg-type]  # pydantic turns the str into SecretStr
    )
    process = bootstrap(config)
    process.workers, process.on_start = [], []
    stop = asyncio.Event()
    server = asyncio.create_task(serve(process, stop, handle_signals=False))
    await asyncio.wait_for(process.started.wait(), timeout=30)
    engine = create_engine(url, pool_size=2)
    sessions = session_factory(engine)

    async def add_order(customer_id: str) -> None:
        order = Order.place(
            order_id=str(uuid.uuid4()),
            customer_id=customer_id,
            currency="EUR",
            lines=[OrderLine("p-1", 1, "Widget", 250)],
        )
        async with SqlUnitOfWork(sessions, Topics(kafka.topic_prefix)) as uow:
            await uow.orders.add(order)
            await uow.commit()

    channel = grpc.aio.insecure_channel(f"127.0.0.1:{process.bound_port}")
    try:
        orders: OrderServiceAsyncStub = order_pb2_grpc.OrderServiceStub(channel)  # type: ignore[assignment]
        customers: CustomerServiceAsyncStub = customer_pb2_grpc.CustomerServiceStub(channel)  # type: ignore[assignment]
        yield OrderApi(orders, customers, add_order)
    finally:
        await channel.close()
        await engine.dispose()
        stop.set()
        await server


async def _customer(api: OrderApi) -> str:
    customer_id = f"c-{uuid.uuid4().hex[:10]}"
    customer = customer_pb2.Customer(customer_id=customer_id, name="Page Tester", email=f"{customer_id}@example.com")
    await api.customers.CreateCustomer(customer_pb2.CreateCustomerRequest(customer=customer))
    return customer_id


def _forgeries(real: str) -> list[str]:
    """Tokens a hostile client sends: cut, edited, unsigned, or signed with a guessed key."""

    def unsigned(position: object) -> str:
        return base64.urlsafe_b64encode(json.dumps({"k": "orders", "p": position}).encode()).decode().rstrip("=")

    other_key = PageTokens(b"not-the-servers-key-but-long-enough!")
    flipped = real[:5] + ("A" if real[5] != "A" else "B") + real[6:]
    return [
        real[: len(real) // 2],
        real[:-1],
        real + "A",
        flipped,
        "garbage",
        "!!!!",
        "A" * 5000,
        unsigned([]),  # was IndexError
        unsigned([1, 2]),  # was TypeError
        unsigned(["2026-01-01T00:00:00+00:00", 5]),  # was "operator does not exist: text < integer"
        unsigned("x"),
        other_key.encode("orders", ["2026-01-01T00:00:00+00:00", "o-1"]),
        other_key.encode("customers", ["c-1"]),
    ]


async def _refused(call: Awaitable[object]) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, raised.value.details()
    status = rpc_status.from_call(raised.value)  # type: ignore[arg-type]
    assert status is not None
    violations = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations += [v.field for v in bad.field_violations]
    assert violations == ["page_token"]


async def test_list_orders_pages_and_refuses_every_forged_token(api: OrderApi) -> None:
    customer_id = await _customer(api)
    for _ in range(3):
        await api.add_order(customer_id)
    first = await api.orders.ListOrders(order_pb2.ListOrdersRequest(page_size=2, customer_id=customer_id))
    assert len(first.orders) == 2 and first.next_page_token
    rest = await api.orders.ListOrders(
        order_pb2.ListOrdersRequest(page_size=2, customer_id=customer_id, page_token=first.next_page_token)
    )
    assert len(rest.orders) == 1 and not rest.next_page_token
    assert {o.order_id for o in first.orders}.isdisjoint({o.order_id for o in rest.orders})

    for forged in _forgeries(first.next_page_token):
        await _refused(api.orders.ListOrders(order_pb2.ListOrdersRequest(customer_id=customer_id, page_token=forged)))
    # A real token with other filters than it was issued for.
    await _refused(api.orders.ListOrders(order_pb2.ListOrdersRequest(page_token=first.next_page_token)))
    await _refused(
        api.orders.ListOrders(
            order_pb2.ListOrdersRequest(
                customer_id=customer_id, status=order_pb2.ORDER_STATUS_PAID, page_token=first.next_page_token
            )
        )
    )


async def test_list_customers_pages_and_refuses_every_forged_token(api: OrderApi) -> None:
    created = {await _customer(api) for _ in range(3)}
    first = await api.customers.ListCustomers(customer_pb2.ListCustomersRequest(page_size=2))
    assert first.next_page_token
    rest = await api.customers.ListCustomers(
        customer_pb2.ListCustomersRequest(page_size=2, page_token=first.next_page_token)
    )
    assert {c.customer_id for c in [*first.customers, *rest.customers]} == created

    for forged in _forgeries(first.next_page_token):
        await _refused(api.customers.ListCustomers(customer_pb2.ListCustomersRequest(page_token=forged)))
    # A token of another listing, correctly signed by this very service, is refused too.
    customer_id = next(iter(created))
    for _ in range(2):
        await api.add_order(customer_id)
    orders = await api.orders.ListOrders(order_pb2.ListOrdersRequest(page_size=1))
    await _refused(api.customers.ListCustomers(customer_pb2.ListCustomersRequest(page_token=orders.next_page_token)))
