"""The order saga across real processes: place → reserve → confirm/reject → cancel/ship."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from oms.order.v1 import order_pb2
from payment_svc.adapters.simulated_provider import read_ledger
from testkit.clients import Clients
from testkit.processes import Mesh
from testkit.wait import eventually

NO_PRECHECK = pytest.mark.order_env({"OMS_ORDER_STOCK_PRECHECK": "false"})


async def test_happy_path_confirms_and_reserves(clients: Clients) -> None:
    product = await clients.product(stock=10, price_cents=1999)
    customer = await clients.customer()
    placed = await clients.place(customer, [(product, 3)])
    assert placed.status == order_pb2.ORDER_STATUS_PENDING
    assert placed.total.units == 59 and placed.total.nanos == 970_000_000

    settled = await clients.settled(placed.order_id)
    assert settled.status == order_pb2.ORDER_STATUS_CONFIRMED
    stock = await clients.stock(product)
    assert (stock.quantity, stock.reserved, stock.available) == (10, 3, 7)


@NO_PRECHECK
async def test_not_enough_stock_rejects_with_the_shortfall_and_changes_nothing(clients: Clients) -> None:
    plenty, scarce = await clients.product(stock=10), await clients.product(stock=2)
    customer = await clients.customer()
    placed = await clients.place(customer, [(plenty, 4), (scarce, 5)])

    settled = await clients.settled(placed.order_id)
    assert settled.status == order_pb2.ORDER_STATUS_REJECTED
    assert [(s.product_id, s.requested, s.available) for s in settled.shortfalls] == [(scarce, 5, 2)]
    assert settled.status_reason
    # All or nothing: the line that could have been reserved was not.
    assert (await clients.stock(plenty)).reserved == 0
    assert (await clients.stock(scarce)).reserved == 0


async def test_precheck_fails_fast_when_stock_is_clearly_short(clients: Clients) -> None:
    product = await clients.product(stock=1)
    customer = await clients.customer()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await clients.place(customer, [(product, 5)])
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    status = rpc_status.from_call(raised.value)
    assert status is not None
    failures = [d for d in status.details if d.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR)]
    detail = error_details_pb2.PreconditionFailure()
    failures[0].Unpack(detail)
    assert detail.violations[0].subject == f"products/{product}"
    assert "requested 5, available 1" in detail.violations[0].description


@NO_PRECHECK
async def test_contention_never_oversells(clients: Clients) -> None:
    product = await clients.product(stock=50)
    customer = await clients.customer()
    placed = await asyncio.gather(*(clients.place(customer, [(product, 1)]) for _ in range(300)))
    assert len({o.order_id for o in placed}) == 300

    settled = await asyncio.gather(*(clients.settled(o.order_id, timeout_s=120) for o in placed))
    statuses = [o.status for o in settled]
    assert statuses.count(order_pb2.ORDER_STATUS_CONFIRMED) == 50
    assert statuses.count(order_pb2.ORDER_STATUS_REJECTED) == 250
    stock = await clients.stock(product)
    assert (stock.available, stock.reserved, stock.quantity) == (0, 50, 50)


async def test_cancel_releases_and_shipping_commits(clients: Clients) -> None:
    product = await clients.product(stock=10)
    customer = await clients.customer()
    to_cancel = await clients.place(customer, [(product, 2)])
    to_ship = await clients.place(customer, [(product, 3)])
    await clients.settled(to_cancel.order_id)
    await clients.settled(to_ship.order_id)
    assert (await clients.stock(product)).reserved == 5

    cancelled = await clients.orders.CancelOrder(
        order_pb2.CancelOrderRequest(order_id=to_cancel.order_id, reason="changed my mind"), metadata=clients.admin
    )
    assert cancelled.order.status == order_pb2.ORDER_STATUS_CANCELLED
    await eventually(lambda: clients.stock(product), until=lambda s: s.reserved == 3, what="release")

    for status in (order_pb2.ORDER_STATUS_PAID, order_pb2.ORDER_STATUS_SHIPPED):
        await clients.orders.UpdateOrderStatus(
            order_pb2.UpdateOrderStatusRequest(order_id=to_ship.order_id, status=status), metadata=clients.admin
        )
    shipped_stock = await eventually(lambda: clients.stock(product), until=lambda s: s.quantity == 7, what="commit")
    assert (shipped_stock.quantity, shipped_stock.reserved, shipped_stock.available) == (7, 0, 7)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await clients.orders.CancelOrder(
            order_pb2.CancelOrderRequest(order_id=to_ship.order_id), metadata=clients.admin
        )
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "SHIPPED" in (raised.value.details() or "") and "CANCELLED" in (raised.value.details() or "")
    assert (await clients.order(to_ship.order_id)).status == order_pb2.ORDER_STATUS_SHIPPED


async def test_place_order_is_idempotent_on_its_key(clients: Clients) -> None:
    product = await clients.product(stock=10)
    customer = await clients.customer()
    keyed = (*clients.admin, ("idempotency-key", "key-1"))
    first, again = await asyncio.gather(
        clients.place(customer, [(product, 1)], metadata=keyed), clients.place(customer, [(product, 1)], metadata=keyed)
    )
    assert first.order_id == again.order_id
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await clients.place(customer, [(product, 2)], metadata=keyed)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    listed = await clients.orders.ListOrders(order_pb2.ListOrdersRequest(customer_id=customer), metadata=clients.admin)
    assert len(listed.orders) == 1


async def test_watch_streams_pending_then_confirmed(clients: Clients) -> None:
    product = await clients.product(stock=5)
    customer = await clients.customer()
    placed = await clients.place(customer, [(product, 1)])
    seen = []
    stream = clients.orders.WatchOrder(order_pb2.WatchOrderRequest(order_id=placed.order_id), metadata=clients.admin)
    async for update in stream:
        seen.append(update.order.status)
        if update.order.status == order_pb2.ORDER_STATUS_CONFIRMED:
            await clients.orders.CancelOrder(
                order_pb2.CancelOrderRequest(order_id=placed.order_id), metadata=clients.admin
            )
    # The stream ends by itself once the order is final.
    assert seen[-1] == order_pb2.ORDER_STATUS_CANCELLED
    assert order_pb2.ORDER_STATUS_CONFIRMED in seen
    assert seen[0] in (order_pb2.ORDER_STATUS_PENDING, order_pb2.ORDER_STATUS_CONFIRMED)


@pytest.mark.order_env({"OMS_ORDER_PAYMENT_TIMEOUT_S": "2", "OMS_ORDER_SWEEP_INTERVAL_S": "0.5"})
async def test_unpaid_confirmed_orders_expire_and_release_stock(clients: Clients) -> None:
    product = await clients.product(stock=4)
    customer = await clients.customer()
    placed = await clients.place(customer, [(product, 4)])
    assert (await clients.settled(placed.order_id)).status == order_pb2.ORDER_STATUS_CONFIRMED
    expired = await eventually(
        lambda: clients.order(placed.order_id),
        until=lambda o: o.status == order_pb2.ORDER_STATUS_CANCELLED,
        timeout_s=30,
        what="expiry",
    )
    assert "not paid" in expired.status_reason
    await eventually(lambda: clients.stock(product), until=lambda s: s.available == 4, what="release after expiry")


async def test_order_service_survives_inventory_outage(core: Mesh, clients: Clients) -> None:
    """With inventory away, PlaceOrder still answers at once (PENDING) and completes later."""
    product = await clients.product(stock=5)
    customer = await clients.customer()
    await clients.settled((await clients.place(customer, [(product, 1)])).order_id)  # prices now replicated

    inventory = core.services["inventory"]
    await inventory.terminate()
    loop = asyncio.get_running_loop()
    started = loop.time()
    placed = await clients.place(customer, [(product, 1)])
    assert loop.time() - started < 5
    assert placed.status == order_pb2.ORDER_STATUS_PENDING

    await inventory.start()
    assert (await clients.settled(placed.order_id, timeout_s=60)).status == order_pb2.ORDER_STATUS_CONFIRMED


async def test_a_failed_payment_cancels_and_releases(core: Mesh, clients: Clients) -> None:
    from datetime import UTC, datetime

    from mesh.messaging.events import cloudevent_headers
    from oms.payment.v1 import events_pb2 as payment_events
    from testkit.topics import produce_raw

    product = await clients.product(stock=5)
    customer = await clients.customer()
    placed = await clients.place(customer, [(product, 2)])
    assert (await clients.settled(placed.order_id)).status == order_pb2.ORDER_STATUS_CONFIRMED

    event = payment_events.PaymentFailed(order_id=placed.order_id, reason="card declined")
    headers = cloudevent_headers(
        event_id=f"pay-{placed.order_id}",
        event_type=event.DESCRIPTOR.full_name,
        source="/payments-test",
        time=datetime.now(UTC),
    )
    topic = f"{core.kafka.topic_prefix}payments"
    produce_raw(core.kafka.bootstrap, topic, key=placed.order_id, value=event.SerializeToString(), headers=headers)

    cancelled = await eventually(
        lambda: clients.order(placed.order_id),
        until=lambda o: o.status == order_pb2.ORDER_STATUS_CANCELLED,
        what="cancellation after the failed payment",
    )
    assert "card declined" in cancelled.status_reason
    await eventually(lambda: clients.stock(product), until=lambda s: s.available == 5, what="stock released")


async def test_a_card_order_is_paid_and_a_paid_order_cancelled_is_released_and_refunded(
    paying: Mesh, clients: Clients
) -> None:
    """The saga with payment over gRPC (the gateway's variants: tests/e2e/test_payment_saga.py)."""
    product = await clients.product(stock=10)
    customer = await clients.customer()
    placed = await clients.place(customer, [(product, 2)], payment_method="tok_visa")

    paid = await eventually(
        lambda: clients.order(placed.order_id),
        until=lambda o: o.status == order_pb2.ORDER_STATUS_PAID,
        timeout_s=60,
        what="the card order PAID",
    )
    assert paid.status_reason == "payment authorized"
    await clients.orders.CancelOrder(
        order_pb2.CancelOrderRequest(order_id=placed.order_id, reason="changed my mind"), metadata=paying.metadata()
    )
    await eventually(
        lambda: clients.stock(product), until=lambda s: s.reserved == 0, timeout_s=30, what="the stock released"
    )
    ledger = paying.services["payment"].env["OMS_PAYMENT_SIMULATED_LEDGER"]

    async def provider_operations() -> list[str]:
        books = read_ledger(ledger)
        return [op["op"] for op in books["operations"] if op["order_id"] == placed.order_id]

    assert await eventually(provider_operations, until=lambda ops: "refunded" in ops, timeout_s=30) == [
        "authorize",
        "refunded",
    ]
