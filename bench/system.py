"""Launching the real mesh for a benchmark, through the e2e harness (testkit)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc

from testkit.clients import Clients
from testkit.infra import Infra
from testkit.processes import Mesh, new_mesh

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
# Enough that no benchmark order is ever short: every order confirms.
HUGE_STOCK = 10**12


@dataclass
class RunningMesh:
    mesh: Mesh
    clients: Clients
    order_address: str
    inventory_address: str
    order_database_url: str
    inventory_database_url: str

    def admin_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.mesh.metadata()

    def pids(self) -> dict[int, str]:
        """pid → group name of the running services, for CPU accounting."""
        return {s.process.pid: f"{name}_svc" for name, s in self.mesh.services.items() if s.process is not None}

    def bearer(self) -> str:
        return self.mesh.metadata()[0][1]


def workdir(name: str) -> Path:
    folder = RESULTS / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.asynccontextmanager
async def running_mesh(
    infra: Infra,
    folder: Path,
    *,
    order_env: dict[str, str] | None = None,
    order_module: str | None = None,
    inventory_env: dict[str, str] | None = None,
    inventory_module: str | None = None,
) -> AsyncIterator[RunningMesh]:
    """inventory, then orders (it asks inventory for prices), on fresh databases and topics.

    ``*_module`` runs a service through another entry module (the profiler).
    """
    mesh = await new_mesh(infra, folder)
    try:
        inventory = await mesh.add("inventory", extra_env=inventory_env)
        if inventory_module:
            inventory.module = inventory_module
        await inventory.start()
        order = await mesh.add("order", extra_env={"OMS_ORDER_INVENTORY_ADDR": inventory.address} | (order_env or {}))
        if order_module:
            order.module = order_module
        await order.start()
        order_channel = grpc.aio.insecure_channel(order.address)
        inventory_channel = grpc.aio.insecure_channel(inventory.address)
        try:
            yield RunningMesh(
                mesh=mesh,
                clients=Clients.connect(order_channel, inventory_channel, mesh.metadata()),
                order_address=order.address,
                inventory_address=inventory.address,
                order_database_url=mesh.databases["order_svc"],
                inventory_database_url=mesh.databases["inventory_svc"],
            )
        finally:
            await order_channel.close()
            await inventory_channel.close()
    finally:
        await mesh.stop()
