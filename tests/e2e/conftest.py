"""The mesh as real processes on real servers; each test gets its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from testkit.clients import Clients
from testkit.infra import Infra
from testkit.processes import Mesh, new_mesh
from tests.e2e.gateway_support import payment_env

pytestmark = pytest.mark.e2e


@pytest.fixture
async def mesh(infra: Infra, tmp_path: Path) -> AsyncIterator[Mesh]:
    started = await new_mesh(infra, tmp_path)
    try:
        yield started
    finally:
        await started.stop()


async def start_core(mesh: Mesh, *, order_env: dict[str, str] | None = None) -> None:
    """inventory first (the order service asks it for prices), then orders."""
    inventory = await mesh.add("inventory")
    await inventory.start()
    order = await mesh.add("order", extra_env={"OMS_ORDER_INVENTORY_ADDR": inventory.address} | (order_env or {}))
    await order.start()


async def start_payment(mesh: Mesh) -> None:
    """payment_svc beside the core (the simulated provider, its books in the mesh's folder)."""
    payment = await mesh.add("payment", extra_env=payment_env(mesh))
    await payment.start()


@pytest.fixture
async def paying(core: Mesh) -> Mesh:
    """The core mesh with payment_svc running too: orders placed with a card token get paid."""
    await start_payment(core)
    return core


@pytest.fixture
async def core(mesh: Mesh, request: pytest.FixtureRequest) -> Mesh:
    """A mesh with inventory and orders running; ``@pytest.mark.order_env({...})`` adds settings."""
    marker = request.node.get_closest_marker("order_env")
    await start_core(mesh, order_env=marker.args[0] if marker else None)
    return mesh


@pytest.fixture
async def clients(core: Mesh) -> AsyncIterator[Clients]:
    mesh = core
    order_channel = grpc.aio.insecure_channel(mesh.services["order"].address)
    inventory_channel = grpc.aio.insecure_channel(mesh.services["inventory"].address)
    try:
        yield Clients.connect(order_channel, inventory_channel, mesh.metadata())
    finally:
        await order_channel.close()
        await inventory_channel.close()
