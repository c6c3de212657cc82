"""Real external clients against every service port: grpcurl (reflection v1 and v1alpha, health List),
grpc-health-probe, SIGTERM; and clients in other languages built on `buf generate`'s code (a Go and
a TypeScript client from clients/) that place an order, watch it to CONFIRMED and read a BadRequest."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oms.order.v1 import order_pb2
from testkit.clients import Clients
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


# Go's module and build caches live in .oms (the project's untracked state), so a rerun builds in
# about a second; the first build compiles grpc and protobuf (about a minute on two cores).
GO_ENV = {
    "GOMODCACHE": str(ROOT / ".oms" / "go" / "mod"),
    "GOCACHE": str(ROOT / ".oms" / "go" / "cache"),
    "GOFLAGS": "-mod=readonly -buildvcs=false",
}


def timed(what: str, command: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None) -> None:
    """Runs a build step; its output is the failure message, its duration is printed (pytest -s)."""
    started = time.monotonic()
    done = subprocess.run(
        list(map(str, command)), cwd=cwd, env=os.environ | (env or {}), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    print(f"{what}: {time.monotonic() - started:.1f}s")


@pytest.fixture(scope="module")
def generated() -> Iterator[Path]:
    """The repository's layout in a temporary folder: gen/ from `buf generate` (buf.gen.yaml, as the
    docs say to run it) and a copy of clients/, so nothing is written into the work tree. (Its own
    folder, not pytest's tmp_path: concurrent pytest runs prune each other's old basetemp folders.)"""
    for plugin in ("protoc-gen-go", "protoc-gen-go-grpc"):
        assert (BIN / plugin).exists(), f"{plugin} is missing from .oms/bin: run scripts/tools (make deps)"
    with tempfile.TemporaryDirectory(prefix="oms-other-languages-") as folder:
        yield layout(Path(folder))


def layout(root: Path) -> Path:
    """Writes gen/ and clients/ into ``root`` as they are in the repository."""
    timed("buf generate", [ROOT / "node_modules" / ".bin" / "buf", "generate", "-o", root], cwd=ROOT)
    shutil.copy(ROOT / "gen" / "go" / "go.mod", root / "gen" / "go" / "go.mod")
    shutil.copytree(ROOT / "clients", root / "clients", ignore=shutil.ignore_patterns("dist"))
    (root / "node_modules").symlink_to(ROOT / "node_modules")
    return root


@pytest.fixture(scope="module")
def go_client(generated: Path) -> Path:
    assert shutil.which("go"), "Go is not installed (the project's machines have it; scripts/tools needs it too)"
    binary = generated / "bin" / "oms-go-client"
    timed("go build clients/go", ["go", "build", "-o", binary, "."], cwd=generated / "clients" / "go", env=GO_ENV)
    return binary


@pytest.fixture(scope="module")
def ts_client(generated: Path) -> list[str | Path]:
    project = generated / "clients" / "ts"
    timed("tsc clients/ts", [ROOT / "node_modules" / ".bin" / "tsc", "-p", project], cwd=project)
    return ["node", project / "dist" / "clients" / "ts" / "client.js"]


async def ordered_as_a_customer(clients: Clients, mesh: Mesh, command: list[str | Path]) -> dict[str, Any]:
    """Seeds a product and a customer as admin, runs ``command`` (``{customer}`` and ``{product}``
    filled in) with the customer's token, and returns the JSON it printed."""
    product = await clients.product(stock=5, price_cents=1999)
    customer = await clients.customer()
    env = os.environ | {"OMS_TOKEN": mesh.token(customer, "customer")}
    argv = [str(part).format(customer=customer, product=product) for part in command]
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode == 0, f"{command[0]} failed ({process.returncode}):\n{err.decode()}"
    seen: dict[str, Any] = json.loads(out)
    # What the client saw is what the mesh holds: the customer's order, confirmed, stock reserved.
    stored = await clients.order(seen["order_id"])
    assert (stored.customer_id, stored.status) == (customer, order_pb2.ORDER_STATUS_CONFIRMED)
    assert (await clients.stock(product)).reserved == 2
    assert seen["total"] == "EUR 39.980000000"
    return seen


def violated_fields(seen: dict[str, Any]) -> set[str]:
    return {violation["field"] for violation in seen["field_violations"]}


async def test_a_go_client_on_the_generated_code_orders_watches_and_reads_bad_request(
    clients: Clients, core: Mesh, go_client: Path
) -> None:
    address = core.services["order"].address
    seen = await ordered_as_a_customer(
        clients, core, [go_client, "-order-addr", address, "-customer", "{customer}", "-product", "{product}"]
    )
    assert seen["statuses"][-1] == "ORDER_STATUS_CONFIRMED"
    assert seen["bad_request_code"] == "InvalidArgument"
    assert {"items[0].product_id", "items[0].quantity"} <= violated_fields(seen)


async def test_a_typescript_client_on_the_generated_code_orders_watches_and_reads_bad_request(
    clients: Clients, core: Mesh, ts_client: list[str | Path]
) -> None:
    address = core.services["order"].address
    seen = await ordered_as_a_customer(clients, core, [*ts_client, address, "{customer}", "{product}"])
    assert seen["statuses"][-1] == "ORDER_STATUS_CONFIRMED"
    assert seen["bad_request_code"] == "INVALID_ARGUMENT"
    assert {"items[0].product_id", "items[0].quantity"} <= violated_fields(seen)
