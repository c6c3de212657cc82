"""Two replicas of inventory and of orders behind the gateway; one of each is SIGKILLed mid-traffic.

The gateway's channels and order_svc's channel to inventory name both replicas
(``ipv4:a,b``) and balance round robin over the healthy ones, retrying reads elsewhere
(mesh/resilience/client_policy.py). Readers and placers run at a steady pace through the
gateway; placers retry a failed placement with the same Idempotency-Key, as a client must.

Counted: no read fails; every placement ends with exactly one order (none lost, none doubled);
every order settles; while both replicas are up each serves a share of the calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from testkit.clients import unique
from testkit.processes import GatewayProcess, Mesh, ServiceProcess, free_port
from testkit.wait import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

READERS = 4
PLACERS = 3
# Each worker's pace: a steady load that two cores can carry next to six processes.
PAUSE_S = 0.02


@dataclass
class Replicated:
    mesh: Mesh
    gateway: GatewayProcess
    http: httpx.AsyncClient
    metrics_ports: dict[str, int] = field(default_factory=dict)

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.mesh.token()}"}


async def _add(mesh: Mesh, name: str, replica: int, ports: dict[str, int], env: dict[str, str]) -> ServiceProcess:
    metrics_port = free_port()
    service = await mesh.add(
        name, replica=replica, extra_env={f"OMS_{name.upper()}_METRICS_PORT": str(metrics_port)} | env
    )
    ports[service.name] = metrics_port
    return service


def _targets(*services: ServiceProcess) -> str:
    return "ipv4:" + ",".join(service.address for service in services)


@pytest.fixture
async def replicated(mesh: Mesh) -> AsyncIterator[Replicated]:
    ports: dict[str, int] = {}
    inventories = [await _add(mesh, "inventory", n, ports, {}) for n in (1, 2)]
    for inventory in inventories:
        await inventory.start()
    order_env = {"OMS_ORDER_INVENTORY_ADDR": _targets(*inventories)}
    orders = [await _add(mesh, "order", n, ports, order_env) for n in (1, 2)]
    await asyncio.gather(*(order.start() for order in orders))
    port = free_port()
    env = mesh.base_env() | {
        "OMS_GATEWAY_PORT": str(port),
        "OMS_GATEWAY_ORDER_ADDR": _targets(*orders),
        "OMS_GATEWAY_INVENTORY_ADDR": _targets(*inventories),
        # Not under test here: notify is not started, so readiness is the gateway's own.
        "OMS_GATEWAY_NOTIFY_ADDR": f"127.0.0.1:{free_port()}",
        "OMS_GATEWAY_LOG_LEVEL": "warning",
    }
    gateway = GatewayProcess(port, env, mesh.workdir / "gateway.log", ready_path="/openapi.json")
    await gateway.start()
    try:
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30.0) as http:
            yield Replicated(mesh, gateway, http, ports)
    finally:
        await gateway.stop()


async def _served(port: int, method_suffix: str) -> float:
    """``oms_grpc_requests_total`` of one replica for methods ending in ``method_suffix``."""
    async with httpx.AsyncClient(timeout=5) as client:
        reply = await client.get(f"http://127.0.0.1:{port}/metrics")
    count = 0.0
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            if sample.name == "oms_grpc_requests_total" and sample.labels.get("method", "").endswith(method_suffix):
                count += sample.value
    return count


@dataclass
class Traffic:
    failed_reads: list[str] = field(default_factory=list)
    reads: int = 0
    # Idempotency-Key → the order ids the gateway answered with for it (all must be equal).
    placed: dict[str, set[str]] = field(default_factory=dict)
    retried_placements: int = 0


async def _reader(stack: Replicated, product_id: str, traffic: Traffic, stop: asyncio.Event) -> None:
    while not stop.is_set():
        reply = await stack.http.get(f"/products/{product_id}")
        traffic.reads += 1
        if reply.status_code != 200:
            traffic.failed_reads.append(f"{reply.status_code} {reply.text[:200]}")
        await asyncio.sleep(PAUSE_S)


async def _placer(stack: Replicated, customer_id: str, product_id: str, traffic: Traffic, stop: asyncio.Event) -> None:
    body = {"customerId": customer_id, "items": [{"productId": product_id, "quantity": 1}]}
    while not stop.is_set():
        key = unique("k")
        ids = traffic.placed.setdefault(key, set())
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(httpx.TransportError):
                reply = await stack.http.post("/orders", json=body, headers=stack.admin | {"Idempotency-Key": key})
                if reply.status_code == 200:
                    ids.add(reply.json()["order"]["orderId"])
                    break
                # A replica killed mid-call answers 503: the same key again is safe.
                assert reply.status_code in (502, 503, 504), reply.text
            assert time.monotonic() < deadline, f"placement {key} never succeeded"
            traffic.retried_placements += 1
            await asyncio.sleep(0.1)
        await asyncio.sleep(PAUSE_S)


async def test_one_replica_of_each_service_killed_mid_traffic_costs_no_read_and_no_order(
    replicated: Replicated,
) -> None:
    stack = replicated
    product_id = unique("p")
    price = {"currencyCode": "EUR", "units": "3", "nanos": 0}
    product = {"productId": product_id, "name": "Widget", "price": price, "active": True}
    assert (await stack.http.post("/products", json=product, headers=stack.admin)).status_code == 200
    added = await stack.http.post(
        "/api/inventory/add", json={"productId": product_id, "quantity": "100000"}, headers=stack.admin
    )
    assert added.status_code == 200, added.text
    customer_id = unique("c")
    customer = {"customerId": customer_id, "name": "Ada Lovelace", "email": f"{customer_id}@example.com"}
    assert (await stack.http.post("/customers", json=customer, headers=stack.admin)).status_code == 200

    traffic = Traffic()
    stop = asyncio.Event()
    workers = [asyncio.create_task(_reader(stack, product_id, traffic, stop)) for _ in range(READERS)]
    workers += [asyncio.create_task(_placer(stack, customer_id, product_id, traffic, stop)) for _ in range(PLACERS)]
    try:
        # Both replicas of each service take a share of the calls while both are up.
        ports = stack.metrics_ports
        await eventually(
            lambda: _shares(ports),
            until=lambda shares: all(value >= 10 for value in shares.values()),
            timeout_s=30,
            what="every replica serving calls",
        )
        reads_before_kill = traffic.reads
        await stack.mesh.services["inventory"].kill()
        await stack.mesh.services["order"].kill()
        # Traffic goes on against the survivors for as long again.
        await eventually(
            _noop,
            until=lambda _: traffic.reads >= 2 * reads_before_kill + 50,
            timeout_s=60,
            what="traffic after the kill",
        )
    finally:
        stop.set()
        results = await asyncio.gather(*workers, return_exceptions=True)
    failures = [result for result in results if isinstance(result, BaseException)]
    assert not failures, failures

    assert traffic.failed_reads == [], traffic.failed_reads[:5]
    doubled = {key: ids for key, ids in traffic.placed.items() if len(ids) != 1}
    assert not doubled, doubled
    order_ids = {next(iter(ids)) for ids in traffic.placed.values()}
    assert len(order_ids) == len(traffic.placed)

    # No order lost or doubled: the customer's orders are exactly the ones the clients were given,
    # and every one settles (the surviving replicas took over the killed ones' partitions).
    listed = await _orders_of(stack, customer_id)
    assert set(listed) == order_ids, (len(listed), len(order_ids))
    final = await eventually(
        lambda: _orders_of(stack, customer_id),
        until=lambda orders: all(status == "ORDER_STATUS_CONFIRMED" for status in orders.values()),
        timeout_s=90,
        what="every order CONFIRMED",
    )
    # Stock was reserved once per order: no reservation lost or applied twice by the takeover.
    stock = (await stack.http.get(f"/api/inventory/{product_id}", headers=stack.admin)).json()["stock"]
    assert int(stock["reserved"]) == len(final)
    assert int(stock["available"]) == 100000 - len(final)
    print(f"reads={traffic.reads} orders={len(final)} placements retried after the kill={traffic.retried_placements}")


async def _noop() -> None:
    return None


async def _shares(ports: dict[str, int]) -> dict[str, float]:
    shares = {}
    for name, port in ports.items():
        suffix = "/GetProduct" if name.startswith("inventory") else "/PlaceOrder"
        shares[name] = await _served(port, suffix)
    return shares


async def _orders_of(stack: Replicated, customer_id: str) -> dict[str, str]:
    """order id → status of every order of the customer, through every page."""
    found: dict[str, str] = {}
    token = ""
    while True:
        params = {"customerId": customer_id, "pageSize": "500", "pageToken": token}
        reply = await stack.http.get("/orders", params=params, headers=stack.admin)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        for order in body.get("orders", []):
            found[order["orderId"]] = order["status"]
        token = body.get("nextPageToken", "")
        if not token:
            return found
