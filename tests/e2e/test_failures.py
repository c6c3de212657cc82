"""Nothing lost: processes killed mid-flight, poison messages, several relays at once."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import grpc
import pytest

from oms.order.v1 import order_pb2
from testkit.clients import Clients
from testkit.processes import Mesh
from testkit.topics import produce_raw, read_topic
from testkit.wait import eventually
from tests.e2e.conftest import start_core

PENDING = order_pb2.ORDER_STATUS_PENDING


async def all_orders(clients: Clients) -> list[order_pb2.Order]:
    orders, token = [], ""
    while True:
        page = await clients.orders.ListOrders(
            order_pb2.ListOrdersRequest(page_size=500, page_token=token), metadata=clients.admin
        )
        orders += page.orders
        token = page.next_page_token
        if not token:
            return orders


async def place_quietly(clients: Clients, customer: str, lines: list[tuple[str, int]]) -> str | None:
    """Places an order; a call cut off by a crash is fine (the order may or may not exist)."""
    try:
        return (await clients.place(customer, lines)).order_id
    except grpc.aio.AioRpcError:
        return None


async def assert_books_balance(clients: Clients, products: list[str]) -> None:
    """Every order settled; stock per product equals what the confirmed orders hold."""
    orders = await eventually(
        lambda: all_orders(clients),
        until=lambda found: all(o.status != PENDING for o in found),
        timeout_s=180,
        interval_s=0.5,
        what="every order to leave PENDING",
    )
    held: Counter[str] = Counter()
    for order in orders:
        if order.status == order_pb2.ORDER_STATUS_CONFIRMED:
            for item in order.items:
                held[item.product_id] += item.quantity
    for product in products:
        stock = await clients.stock(product)
        assert stock.quantity - stock.reserved >= 0
        assert stock.reserved == held[product], (
            f"{product}: reserved {stock.reserved}, confirmed orders hold {held[product]}"
        )


@pytest.mark.slow
async def test_kill_inventory_then_order_then_relay_mid_flight(mesh: Mesh) -> None:
    await start_core(mesh, order_env={"OMS_ORDER_STOCK_PRECHECK": "false", "OMS_ORDER_RUN_RELAY": "false"})
    relay = mesh.relay("order")
    await relay.start()
    inventory, order = mesh.services["inventory"], mesh.services["order"]
    order_channel = grpc.aio.insecure_channel(order.address)
    inventory_channel = grpc.aio.insecure_channel(inventory.address)
    clients = Clients.connect(order_channel, inventory_channel, mesh.metadata())
    try:
        products = [await clients.product(stock=40) for _ in range(5)]
        customer = await clients.customer()
        rng = random.Random(7)

        async def wave(count: int) -> None:
            await asyncio.gather(
                *(place_quietly(clients, customer, [(rng.choice(products), rng.randint(1, 2))]) for _ in range(count))
            )

        await wave(150)
        await inventory.kill()
        await wave(100)  # priced from the replica; reserved once inventory is back
        await inventory.start()
        placing = asyncio.ensure_future(wave(100))
        await asyncio.sleep(0.2)  # let part of the wave be in flight when the order service dies
        await order.kill()
        await placing
        await order.start()
        await wave(50)
        await relay.kill()
        await wave(50)
        await relay.start()

        await assert_books_balance(clients, products)
    finally:
        await order_channel.close()
        await inventory_channel.close()


async def test_poison_goes_to_the_dead_letter_topic_and_the_flow_goes_on(core: Mesh, clients: Clients) -> None:
    topic = f"{core.kafka.topic_prefix}orders"
    produce_raw(core.kafka.bootstrap, topic, key="garbage", value=b"\x00\xffnot a protobuf")
    produce_raw(
        core.kafka.bootstrap,
        topic,
        key="bad-payload",
        value=b"\xff\xff\xff",
        headers=[("ce_id", b"poison-1"), ("ce_type", b"oms.order.v1.OrderPlaced")],
    )
    dead = await read_topic(core.kafka.bootstrap, f"{topic}.dlq", at_least=2, timeout_s=60)
    keys = {m.key for m in dead}
    assert {"garbage", "bad-payload"} <= keys
    assert all(m.headers.get("dlq_error") and m.headers.get("dlq_original_topic") == topic for m in dead)

    product = await clients.product(stock=3)
    customer = await clients.customer()
    placed = await clients.place(customer, [(product, 1)])
    assert (await clients.settled(placed.order_id)).status == order_pb2.ORDER_STATUS_CONFIRMED


async def test_two_relays_publish_each_event_once(mesh: Mesh) -> None:
    await start_core(mesh, order_env={"OMS_ORDER_RUN_RELAY": "false"})
    relays = [mesh.relay("order", 1), mesh.relay("order", 2)]
    for relay in relays:
        await relay.start()
    order_channel = grpc.aio.insecure_channel(mesh.services["order"].address)
    inventory_channel = grpc.aio.insecure_channel(mesh.services["inventory"].address)
    clients = Clients.connect(order_channel, inventory_channel, mesh.metadata())
    try:
        product = await clients.product(stock=100)
        customer = await clients.customer()
        placed = await asyncio.gather(*(clients.place(customer, [(product, 1)]) for _ in range(40)))
        await asyncio.gather(*(clients.settled(o.order_id) for o in placed))
        events = await read_topic(mesh.kafka.bootstrap, f"{mesh.kafka.topic_prefix}orders", at_least=80)
        ids = Counter(m.headers["ce_id"] for m in events)
        assert len(ids) == 80  # 40 placed + 40 confirmed
        assert set(ids.values()) == {1}, "an event was published twice"
        assert all(m.headers["content-type"] == "application/protobuf" for m in events)
        assert all(m.headers["ce_specversion"] == "1.0" and m.headers["ce_source"] for m in events)
    finally:
        await order_channel.close()
        await inventory_channel.close()
