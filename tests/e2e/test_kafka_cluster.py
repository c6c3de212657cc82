"""Two replicas of every service on a three-broker Kafka cluster; a broker and one replica of each
service are SIGKILLed with ~300 orders in flight, then started again.

Topics have 3 replicas and min.insync.replicas 2, the producers acks=all: losing the leader of
some partitions loses no acknowledged event. Afterwards every order is final, no product is
oversold, reserved stock equals what the confirmed orders hold (no reservation lost or applied
twice), every order has exactly its two emails (placed, then confirmed or rejected: no
notification lost or sent twice). The consumer groups' rebalance times and the time to settle
are printed (run with -s to see them).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from mesh.messaging.kafka import ensure_topics
from mesh.resilience.client_policy import channel_options
from mesh.settings.common import KafkaSettings
from oms.inventory.v1 import inventory_pb2
from oms.order.v1 import order_pb2
from testkit.clients import Clients, unique
from testkit.infra import ALL_TOPICS, Infra
from testkit.kafka_cluster import KafkaCluster
from testkit.leftovers import Marker
from testkit.processes import Mesh, ServiceProcess
from testkit.wait import eventually
from tests.e2e.gateway_support import payment_env
from tests.integration.notify.support import SmtpServer
from tests.integration.payment_svc.support import authorizations

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.soak]

ORDERS = 300
SERVICES = ("inventory", "order", "notify", "payment")
IN_FLIGHT = 24
PRODUCTS = 10
STOCK_EACH = 25  # 250 units for ~450 asked: about half the orders are rejected, none oversold
PENDING = order_pb2.ORDER_STATUS_PENDING
CONFIRMED = order_pb2.ORDER_STATUS_CONFIRMED
PAID = order_pb2.ORDER_STATUS_PAID
ORDER_SERVICES = list(order_pb2.DESCRIPTOR.services_by_name.values())
INVENTORY_SERVICES = list(inventory_pb2.DESCRIPTOR.services_by_name.values())


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[KafkaCluster]:
    running = KafkaCluster(tmp_path / "kafka-cluster")
    try:
        await running.up()
        yield running
    finally:
        await running.down()


@pytest.fixture
async def clustered_mesh(infra: Infra, cluster: KafkaCluster, tmp_path: Path) -> AsyncIterator[Mesh]:
    kafka = KafkaSettings(
        bootstrap=cluster.bootstrap, topic_prefix=Marker.new().topic_prefix, partitions=6, replication_factor=3
    )
    await ensure_topics(kafka, ALL_TOPICS)
    folder = tmp_path / "mesh"
    folder.mkdir()
    mesh = Mesh(infra, kafka, folder)
    try:
        yield mesh
    finally:
        await mesh.stop()


def _targets(*services: ServiceProcess) -> str:
    return "ipv4:" + ",".join(service.address for service in services)


async def _start_two_of_each(mesh: Mesh, smtp: SmtpServer) -> None:
    inventories = [await mesh.add("inventory", replica=n) for n in (1, 2)]
    await asyncio.gather(*(service.start() for service in inventories))
    order_env = {"OMS_ORDER_INVENTORY_ADDR": _targets(*inventories)}
    notify_env = {
        "OMS_NOTIFY_SMTP_HOST": "127.0.0.1",
        "OMS_NOTIFY_SMTP_PORT": str(smtp.port),
        "OMS_NOTIFY_SMTP_TIMEOUT_S": "2",
        "OMS_NOTIFY_RETRY_BASE_S": "0.2",
        "OMS_NOTIFY_RETRY_MAX_S": "1",
        "OMS_NOTIFY_DISPATCH_POLL_S": "0.2",
        "OMS_NOTIFY_CLAIM_LEASE_S": "5",
    }
    others = [await mesh.add("order", replica=n, extra_env=order_env) for n in (1, 2)]
    others += [await mesh.add("notify", replica=n, extra_env=notify_env) for n in (1, 2)]
    others += [await mesh.add("payment", replica=n, extra_env=payment_env(mesh)) for n in (1, 2)]
    await asyncio.gather(*(service.start() for service in others))


class Placements:
    """Places orders with an Idempotency-Key each, retrying a call a crash cut off with the same key."""

    def __init__(self, clients: Clients, customer: str, products: list[str]) -> None:
        self.clients = clients
        self.customer = customer
        self.products = products
        self.rng = random.Random(11)
        self.done: dict[str, str] = {}  # key → order id
        self.by_card: set[str] = set()
        self.retries = 0

    async def place(self, slots: asyncio.Semaphore) -> None:
        key = unique("k")
        line = order_pb2.OrderLine(product_id=self.rng.choice(self.products), quantity=self.rng.randint(1, 2))
        # Every other order pays by card (the simulated provider approves tok_visa): it ends PAID,
        # authorized exactly once; the others wait CONFIRMED for an offline payment.
        method = "tok_visa" if self.rng.random() < 0.5 else ""
        request = order_pb2.PlaceOrderRequest(customer_id=self.customer, items=[line], payment_method=method)
        metadata = (*self.clients.admin, ("idempotency-key", key))
        deadline = time.monotonic() + 120
        async with slots:
            while True:
                try:
                    reply = await self.clients.orders.PlaceOrder(request, metadata=metadata, timeout=20)
                except grpc.aio.AioRpcError as exc:
                    transient = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
                    assert exc.code() in transient, exc
                    assert time.monotonic() < deadline, f"placement {key} kept failing: {exc.details()}"
                    self.retries += 1
                    await asyncio.sleep(0.2)
                    continue
                self.done[key] = reply.order.order_id
                if method:
                    self.by_card.add(reply.order.order_id)
                return


def _group_of(service: ServiceProcess) -> str:
    """The consumer group the service's replicas share (mesh.settings.common: group + suffix)."""
    prefix = f"OMS_{service.module.removesuffix('_svc').upper()}_"
    return service.env[f"{prefix}CONSUMER_GROUP"] + service.env.get(f"{prefix}CONSUMER_GROUP_SUFFIX", "")


async def _time_until(probe: object, what: str, timeout_s: float = 120) -> float:
    started = time.monotonic()
    await eventually(probe, timeout_s=timeout_s, interval_s=0.25, what=what)  # type: ignore[arg-type]
    return time.monotonic() - started


async def _report_rebalances(
    report: dict[str, float | str], when: str, cluster: KafkaCluster, group: dict[str, str], *, members: int
) -> None:
    """How long each service's consumer group took, measured at once, to be Stable with ``members``."""
    names = list(group)
    times = await asyncio.gather(
        *(
            _time_until(lambda n=name: cluster.group_settled(group[n], members), f"{name} group at {members}")
            for name in names
        )
    )
    for name, seconds in zip(names, times, strict=True):
        report[f"{name} group rebalance {when} (s)"] = seconds


async def _all_orders(clients: Clients) -> list[order_pb2.Order]:
    orders: list[order_pb2.Order] = []
    token = ""
    while True:
        page = await clients.orders.ListOrders(
            order_pb2.ListOrdersRequest(page_size=500, page_token=token), metadata=clients.admin, timeout=20
        )
        orders += page.orders
        token = page.next_page_token
        if not token:
            return orders


async def test_a_broker_and_one_replica_of_each_service_killed_mid_flight_lose_nothing(
    clustered_mesh: Mesh, cluster: KafkaCluster
) -> None:
    mesh = clustered_mesh
    smtp = SmtpServer()
    smtp.start()
    channels: list[grpc.aio.Channel] = []
    try:
        await _start_two_of_each(mesh, smtp)
        order_channel = grpc.aio.insecure_channel(
            _targets(mesh.services["order"], mesh.services["order-2"]), options=channel_options(ORDER_SERVICES)
        )
        inventory_channel = grpc.aio.insecure_channel(
            _targets(mesh.services["inventory"], mesh.services["inventory-2"]),
            options=channel_options(INVENTORY_SERVICES),
        )
        channels += [order_channel, inventory_channel]
        clients = Clients.connect(order_channel, inventory_channel, mesh.metadata())
        products = [await clients.product(stock=STOCK_EACH) for _ in range(PRODUCTS)]
        customer = await clients.customer()
        placements = Placements(clients, customer, products)
        slots = asyncio.Semaphore(IN_FLIGHT)
        report: dict[str, float | str] = {}
        prefix = mesh.kafka.topic_prefix
        group = {name: _group_of(mesh.services[name]) for name in SERVICES}

        placing = [asyncio.create_task(placements.place(slots)) for _ in range(ORDERS)]
        await eventually(_noop, until=lambda _: len(placements.done) >= 60, timeout_s=120, what="60 orders placed")

        # 1. The broker leading partition 0 of the orders topic dies.
        victim = cluster.leader_of(f"{prefix}orders")
        await cluster.kill(victim)
        killed_at = time.monotonic()
        await eventually(_noop, until=lambda _: len(placements.done) >= 130, timeout_s=120, what="130 orders placed")

        # 2. Then one replica of each service.
        for name in SERVICES:
            await mesh.services[name].kill()
        await _report_rebalances(report, "after losing a replica", cluster, group, members=1)
        await eventually(_noop, until=lambda _: len(placements.done) >= 200, timeout_s=180, what="200 orders placed")

        # 3. Everything comes back.
        report["broker restart (s)"] = await cluster.up()
        await asyncio.gather(*(mesh.services[name].start() for name in SERVICES))
        await _report_rebalances(report, "after the replica rejoined", cluster, group, members=2)
        await asyncio.gather(*placing)

        # Every placement got one order, and no order exists that no client was given.
        order_ids = set(placements.done.values())
        assert len(order_ids) == ORDERS
        orders = await eventually(
            lambda: _all_orders(clients),
            until=lambda found: len(found) == ORDERS and all(o.status != PENDING for o in found),
            timeout_s=240,
            interval_s=0.5,
            what="every order final",
        )
        assert {o.order_id for o in orders} == order_ids

        # Money: an order paid by card that was reserved is PAID and authorized exactly once; a
        # rejected one was never charged.
        paid = await eventually(
            lambda: _all_orders(clients),
            until=lambda found: not any(o.status == CONFIRMED and o.order_id in placements.by_card for o in found),
            timeout_s=240,
            interval_s=0.5,
            what="every reserved card order PAID",
        )
        ledger = str(mesh.workdir / "provider-ledger.json")
        for order in paid:
            charged = len(authorizations(ledger, order.order_id))
            if order.order_id in placements.by_card and order.status == PAID:
                assert charged == 1, f"{order.order_id}: {charged} authorizations"
            else:
                assert charged == 0, f"{order.order_id} ({order.status}): {charged} authorizations"
        orders = paid

        # No oversell; reservations applied exactly once.
        held: Counter[str] = Counter()
        for order in orders:
            if order.status in (CONFIRMED, PAID):
                for item in order.items:
                    held[item.product_id] += item.quantity
        for product in products:
            stock = await clients.stock(product)
            assert stock.reserved <= stock.quantity == STOCK_EACH
            assert stock.reserved == held[product], f"{product}: reserved {stock.reserved}, orders hold {held[product]}"

        # One email per event, each a distinct message:
        # A notify replica killed after the SMTP server took a message but before its commit
        # sends it again with the same Message-ID (the documented duplicate window,
        # notify_svc/service_layer/delivery.py): a copy receivers drop, never a second message.
        async def messages() -> dict[str, Counter[str]]:
            found: dict[str, Counter[str]] = {order_id: Counter() for order_id in order_ids}
            for order_id in order_ids:
                for mail in smtp.sink.mails_for(order_id):
                    found[order_id][mail.message_id] += 1
            return found

        # placed + confirmed/rejected, and "payment received" for a PAID one.
        expected = {o.order_id: 3 if o.status == PAID else 2 for o in orders}
        mailed = await eventually(
            messages,
            until=lambda found: all(len(ids) >= expected[o] for o, ids in found.items()),
            timeout_s=240,
            interval_s=0.5,
            what="every order's emails",
        )
        wrong = [o for o, ids in mailed.items() if len(ids) != expected[o]]
        assert not wrong, [(o, len(mailed[o]), expected[o]) for o in wrong[:5]]
        report["copies resent with the same Message-ID"] = sum(
            n - 1 for ids in mailed.values() for n in ids.values() if n > 1
        )
        report["broker kill → every order final and mailed (s)"] = time.monotonic() - killed_at
        report["placements retried after a crash"] = placements.retries
        report["orders confirmed (waiting for payment) / paid"] = (
            f"{sum(1 for o in orders if o.status == CONFIRMED)} / {sum(1 for o in orders if o.status == PAID)}"
        )
        print("\nkafka cluster failover report:")  # the figures the issue asks to report
        for what, value in report.items():
            print(f"  {what}: {value:.1f}" if isinstance(value, float) else f"  {what}: {value}")
    finally:
        smtp.stop()
        for channel in channels:
            with contextlib.suppress(Exception):
                await channel.close()


async def _noop() -> None:
    return None
