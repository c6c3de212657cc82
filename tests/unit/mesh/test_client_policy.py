"""The clients' balancing, health checking and retry policy, on real gRPC channels and servers."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from gateway.descriptors import services_by_upstream
from mesh.resilience.client_policy import channel_options, repeatable_methods, service_config
from mesh.settings.targets import check_grpc_target
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from testkit.wait import eventually

INVENTORY = inventory_pb2.DESCRIPTOR.services_by_name["InventoryService"]
READ_PREFIXES = ("Get", "List", "BatchGet", "Check", "Watch")


def test_every_read_of_every_contract_is_declared_safe_to_retry_and_no_write_is() -> None:
    for services in services_by_upstream().values():
        for service in services:
            repeatable = {m["method"] for m in repeatable_methods([service])}
            for method in service.methods:
                is_read = method.name.startswith(READ_PREFIXES)
                assert (method.name in repeatable) == is_read, f"{service.full_name}/{method.name}"


def test_service_config_balances_round_robin_checks_health_and_retries_only_unavailable() -> None:
    config = service_config([INVENTORY])
    assert config["loadBalancingConfig"] == [{"round_robin": {}}]
    assert config["healthCheckConfig"] == {"serviceName": ""}
    (method_config,) = config["methodConfig"]
    names = {entry["method"] for entry in method_config["name"]}
    assert {"GetProduct", "ListProducts", "CheckStock", "BatchGetProducts", "GetStock"} == names
    assert method_config["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]
    options = dict(channel_options([INVENTORY]))
    assert json.loads(options["grpc.service_config"]) == config


@pytest.mark.parametrize(
    "target",
    [
        "127.0.0.1:50052",
        "inventory:50052",
        "dns:///inventory:50052",
        "dns://10.0.0.2:53/inventory:50052",
        "ipv4:127.0.0.1:1,127.0.0.1:2",
        "ipv6:[::1]:50052",
        "unix:/run/oms.sock",
        "[::1]:50052",
    ],
)
def test_targets_grpc_resolves_are_accepted(target: str) -> None:
    assert check_grpc_target(target) == target


@pytest.mark.parametrize("target", ["127.0.0.1", "dns:/x", "ipv4:127.0.0.1", "", "http://inventory:50052", "a b:1"])
def test_targets_with_a_typo_are_refused(target: str) -> None:
    with pytest.raises(ValueError, match="must be host:port"):
        check_grpc_target(target)


class _Replica(inventory_pb2_grpc.InventoryServiceServicer):
    """Answers GetProduct with its own name; ``failing`` answers UNAVAILABLE instead."""

    def __init__(self, name: str, calls: Counter[str]) -> None:
        self.name = name
        self.calls = calls
        self.failing = False

    async def GetProduct(
        self, request: inventory_pb2.GetProductRequest, context: grpc.aio.ServicerContext
    ) -> inventory_pb2.GetProductResponse:
        self.calls[self.name] += 1
        if self.failing:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "replica going away")
        return inventory_pb2.GetProductResponse(
            product=inventory_pb2.Product(product_id=request.product_id, name=self.name)
        )


class _Server:
    def __init__(self, replica: _Replica) -> None:
        self.replica = replica
        self.health = health.aio.HealthServicer()
        self.server = grpc.aio.server()
        inventory_pb2_grpc.add_InventoryServiceServicer_to_server(replica, self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    async def start(self) -> None:
        await self.server.start()
        await self.health.set("", health_pb2.HealthCheckResponse.SERVING)


@pytest.fixture
async def replicas() -> AsyncIterator[tuple[list[_Server], Counter[str]]]:
    calls: Counter[str] = Counter()
    servers = [_Server(_Replica(name, calls)) for name in ("a", "b")]
    for server in servers:
        await server.start()
    try:
        yield servers, calls
    finally:
        for server in servers:
            await server.server.stop(None)


async def _get(stub: inventory_pb2_grpc.InventoryServiceStub) -> str:
    reply = await stub.GetProduct(inventory_pb2.GetProductRequest(product_id="p"), timeout=5)
    return reply.product.name


async def test_calls_spread_over_replicas_skip_an_unhealthy_one_and_reads_are_retried_elsewhere(
    replicas: tuple[list[_Server], Counter[str]],
) -> None:
    servers, calls = replicas
    target = "ipv4:" + ",".join(f"127.0.0.1:{server.port}" for server in servers)
    async with grpc.aio.insecure_channel(target, options=channel_options([INVENTORY])) as channel:
        stub = inventory_pb2_grpc.InventoryServiceStub(channel)
        await channel.channel_ready()
        # Round robin reaches both once both subchannels are READY (health included).
        await eventually(lambda: _both_answered(stub), timeout_s=10, what="both replicas answering")

        # A replica that reports NOT_SERVING (draining) gets no new calls.
        await servers[0].health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        await eventually(lambda: _only(stub, "b"), timeout_s=10, what="calls avoiding the draining replica")

        # Back to SERVING; then replica b refuses with UNAVAILABLE: every read still succeeds,
        # retried on a.
        await servers[0].health.set("", health_pb2.HealthCheckResponse.SERVING)
        await eventually(lambda: _both_answered(stub), timeout_s=10, what="replica a back in rotation")
        servers[1].replica.failing = True
        calls.clear()
        answers = Counter([await _get(stub) for _ in range(20)])
        assert answers == Counter({"a": 20})
        assert calls["b"] > 0, "some calls were first sent to the failing replica and retried"


async def _both_answered(stub: inventory_pb2_grpc.InventoryServiceStub) -> bool:
    names = {await _get(stub) for _ in range(6)}
    return names == {"a", "b"}


async def _only(stub: inventory_pb2_grpc.InventoryServiceStub, name: str) -> bool:
    names = [await _get(stub) for _ in range(6)]
    return set(names) == {name}


async def test_a_replica_that_is_gone_costs_no_read(replicas: tuple[list[_Server], Counter[str]]) -> None:
    """Calls after a replica went away (its port closed: connection refused) are answered by the
    other one, retried where the balancer still picked the dead one. Calls in flight at the
    moment a process dies are covered by tests/e2e/test_replicas.py with a real SIGKILL (an
    in-process server stopped here cancels its calls, CANCELLED, which is rightly not retried)."""
    servers, _ = replicas
    target = "ipv4:" + ",".join(f"127.0.0.1:{server.port}" for server in servers)
    async with grpc.aio.insecure_channel(target, options=channel_options([INVENTORY])) as channel:
        stub = inventory_pb2_grpc.InventoryServiceStub(channel)
        await eventually(lambda: _both_answered(stub), timeout_s=10, what="both replicas answering")
        await servers[0].server.stop(None)
        answers = await asyncio.gather(*(_get(stub) for _ in range(100)))
        assert set(answers) == {"b"}
