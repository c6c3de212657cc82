"""Real external clients against every service port: grpcurl (reflection v1 and v1alpha, health List),
grpc-health-probe, SIGTERM."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from testkit.processes import ROOT, Mesh

BIN = ROOT / ".oms" / "bin"
SERVICES = {
    "order": ["oms.order.v1.OrderService", "oms.order.v1.CustomerService"],
    "inventory": ["oms.inventory.v1.InventoryService"],
    "notify": ["oms.notify.v1.NotificationService"],
}
REFLECTION_V1ALPHA = "grpc.reflection.v1alpha.ServerReflection"


async def run(*command: str | Path) -> str:
    process = await asyncio.create_subprocess_exec(
        *map(str, command), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, f"{command} failed ({process.returncode}):\n{out.decode()}"
    return out.decode()


@pytest.fixture
async def all_services(core: Mesh) -> Mesh:
    notify = await core.add("notify")
    await notify.start()
    return core


async def test_grpcurl_lists_and_describes_every_service_and_the_probe_sees_serving(all_services: Mesh) -> None:
    for name, services in SERVICES.items():
        address = all_services.services[name].address
        listed = (await run(BIN / "grpcurl", "-plaintext", address, "list")).split()
        standard = {"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", REFLECTION_V1ALPHA}
        assert set(services) | standard <= set(listed)
        described = await run(BIN / "grpcurl", "-plaintext", address, "describe", services[0])
        assert "rpc " in described
        # grpcurl asks for reflection v1 first; its descriptor must pass Go's strict checks.
        v1 = await run(BIN / "grpcurl", "-plaintext", address, "describe", "grpc.reflection.v1.ServerReflection")
        assert "grpc.reflection.v1.ServerReflectionRequest" in v1
        statuses = json.loads(await run(BIN / "grpcurl", "-plaintext", address, "grpc.health.v1.Health/List"))
        serving = {service for service, s in statuses["statuses"].items() if s["status"] == "SERVING"}
        assert serving == set(statuses["statuses"]) and {"", *services} <= serving
        probe = await run(BIN / "grpc-health-probe", "-addr", address)
        assert "SERVING" in probe


async def test_sigterm_drains_and_exits_cleanly(all_services: Mesh) -> None:
    for name in SERVICES:
        service = all_services.services[name]
        code = await service.terminate(timeout_s=30)
        assert code == 0, f"{name} exited with {code} on SIGTERM:\n{service.tail()}"
        assert '"stopped"' in service.log_path.read_text(), f"{name} did not log its drained stop"
