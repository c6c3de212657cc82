"""The whole mesh with TLS on: HTTPS at the gateway, mutual TLS on every gRPC hop.

One stack for the module (development CA from mesh.auth.dev_certs): orders placed through the HTTPS
gateway go through order → inventory → Kafka and are confirmed; a client without a certificate,
one with a certificate of another CA, and one of our CA whose identity a service does not
allow are refused; grpcurl and grpc-health-probe with the right certificate work.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mesh.auth import dev_certs
from mesh.auth.tls import MeshTls
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from testkit.infra import Infra
from testkit.processes import ROOT, new_mesh
from testkit.wait import eventually
from tests.e2e.gateway_support import Stack, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

BIN = ROOT / ".oms" / "bin"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(our CA's folder, another CA's folder), each with the mesh's identities."""
    ours, other = tmp_path_factory.mktemp("tls-ours"), tmp_path_factory.mktemp("tls-other")
    dev_certs.write(ours)
    dev_certs.write(other)
    return ours, other


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(
    infra: Infra, tmp_path_factory: pytest.TempPathFactory, certs: tuple[Path, Path]
) -> AsyncIterator[Stack]:
    mesh = await new_mesh(infra, Path(tmp_path_factory.mktemp("mtls")))
    mesh.tls_dir = certs[0]
    try:
        async with running_stack(mesh) as running:
            yield running
    finally:
        await mesh.stop()


def material(folder: Path, identity: str) -> MeshTls:
    return MeshTls(
        (folder / "ca.pem").read_bytes(),
        (folder / f"{identity}.pem").read_bytes(),
        (folder / f"{identity}-key.pem").read_bytes(),
    )


async def list_products(channel: grpc.aio.Channel, stack: Stack) -> inventory_pb2.ListProductsResponse:
    stub = inventory_pb2_grpc.InventoryServiceStub(channel)
    return await stub.ListProducts(
        inventory_pb2.ListProductsRequest(page_size=1), metadata=stack.mesh.metadata(), timeout=5
    )


async def run(*command: str | Path) -> tuple[int, str]:
    return await run_with(None, *command)


async def run_with(env: dict[str, str] | None, *command: str | Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *map(str, command), cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    return int(process.returncode or 0), out.decode(errors="replace")


async def test_every_order_placed_through_the_https_gateway_is_confirmed(stack: Stack) -> None:
    assert stack.gateway.base_url.startswith("https://")
    product = await stack.product(stock=10)
    customer = await stack.customer()
    placed = [await stack.place(customer, product) for _ in range(3)]

    async def statuses() -> list[str]:
        return [(await stack.order(o["orderId"]))["status"] for o in placed]

    await eventually(
        statuses,
        until=lambda seen: seen == ["ORDER_STATUS_CONFIRMED"] * 3,
        timeout_s=60,
        interval_s=0.2,
        what="every order CONFIRMED",
    )
    stock = (await stack.call("GET", f"/products/{product}/stock")).json()["stock"]
    assert int(stock["reserved"]) == 3

    # order_svc's own hop to inventory (mTLS with its certificate): the stock pre-check refuses a
    # clearly short order at once, which only an answer from inventory can do.
    short = {"customerId": customer, "items": [{"productId": product, "quantity": 50}]}
    reply = await stack.call("POST", "/orders", body=short, expect=400)
    assert "requested 50, available 7" in reply.text, reply.text


async def test_the_gateway_answers_https_to_a_client_trusting_the_ca_only(
    stack: Stack, certs: tuple[Path, Path]
) -> None:
    ours, other = certs
    trusted = ssl.create_default_context(cafile=str(ours / "ca.pem"))
    async with httpx.AsyncClient(verify=trusted, timeout=10) as client:
        reply = await client.get(f"{stack.gateway.base_url}/healthz")
    assert reply.status_code == 200, reply.text
    # A client trusting another CA does not accept the gateway's certificate.
    stranger = ssl.create_default_context(cafile=str(other / "ca.pem"))
    async with httpx.AsyncClient(verify=stranger, timeout=10) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{stack.gateway.base_url}/healthz")
    # And the port speaks no plain HTTP.
    async with httpx.AsyncClient(timeout=10) as client:
        with pytest.raises(httpx.TransportError):
            await client.get(f"http://127.0.0.1:{stack.gateway.port}/healthz")


async def test_a_client_without_a_certificate_is_refused(stack: Stack, certs: tuple[Path, Path]) -> None:
    address = stack.service("inventory").address
    # Trusting the server but presenting nothing: the server's handshake demands a certificate.
    anonymous = grpc.aio.secure_channel(address, grpc.ssl_channel_credentials((certs[0] / "ca.pem").read_bytes()))
    plaintext = grpc.aio.insecure_channel(address)
    for channel in (anonymous, plaintext):
        try:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await list_products(channel, stack)
            assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
        finally:
            await channel.close()


async def test_a_certificate_of_another_ca_is_refused(stack: Stack, certs: tuple[Path, Path]) -> None:
    ours, other = certs
    # The gateway's name, a key of its own, but signed by a stranger; the client trusts our CA.
    forged = MeshTls(
        (ours / "ca.pem").read_bytes(), (other / "gateway.pem").read_bytes(), (other / "gateway-key.pem").read_bytes()
    )
    channel = stack.service("inventory").channel(forged)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await list_products(channel, stack)
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await channel.close()


async def test_a_certificate_of_our_ca_with_an_identity_not_allowed_is_refused(
    stack: Stack, certs: tuple[Path, Path]
) -> None:
    ours = certs[0]
    # notify is one of ours, but inventory's allowed clients are the gateway, order and operators.
    channel = stack.service("inventory").channel(material(ours, "notify"))
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await list_products(channel, stack)
        assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # Health stays open to every certificate of the CA (probes need no identity of their own).
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await channel.close()
    # The allowed identity on the same port gets its answer.
    allowed = stack.service("inventory").channel(material(ours, "order"))
    try:
        await list_products(allowed, stack)
    finally:
        await allowed.close()


async def test_grpcurl_and_the_health_probe_work_with_the_right_certificate(
    stack: Stack, certs: tuple[Path, Path]
) -> None:
    ours, other = certs
    for name, expected in (
        ("order", "oms.order.v1.OrderService"),
        ("inventory", "oms.inventory.v1.InventoryService"),
        ("notify", "oms.notify.v1.NotificationService"),
    ):
        address = stack.service(name).address
        right = ("-cacert", ours / "ca.pem", "-cert", ours / "oms-operator.pem", "-key", ours / "oms-operator-key.pem")
        status, out = await run(BIN / "grpcurl", *right, address, "list")
        assert status == 0 and expected in out.split(), out
        status, out = await run(
            BIN / "grpc-health-probe",
            f"-addr={address}",
            "-tls",
            f"-tls-ca-cert={ours / 'ca.pem'}",
            f"-tls-client-cert={ours / 'oms-operator.pem'}",
            f"-tls-client-key={ours / 'oms-operator-key.pem'}",
        )
        assert status == 0 and "SERVING" in out, out
    address = stack.service("order").address
    status, out = await run(BIN / "grpcurl", "-cacert", ours / "ca.pem", address, "list")
    assert status != 0, out
    stranger = ("-cacert", ours / "ca.pem", "-cert", other / "oms-operator.pem", "-key", other / "oms-operator-key.pem")
    status, out = await run(BIN / "grpcurl", *stranger, address, "list")
    assert status != 0, out
    status, out = await run(BIN / "grpcurl", "-plaintext", address, "list")
    assert status != 0, out


async def test_the_operator_cli_and_the_container_healthcheck_use_the_tls_settings(
    stack: Stack, certs: tuple[Path, Path]
) -> None:
    ours = certs[0]
    address = stack.service("inventory").address
    env = stack.mesh.base_env() | stack.mesh.tls_env("oms-operator")
    cli = ("-m", "mesh.cli", "outbox", "parked", "--service", "inventory", "--target", address, "--json")
    status, out = await run_with(env, sys.executable, *cli)
    assert status == 0, out
    # Without the TLS settings the same call cannot get through.
    status, out = await run_with(stack.mesh.base_env(), sys.executable, *cli)
    assert status != 0 and "UNAVAILABLE" in out, out
    # The image's healthcheck presents the process's own certificate (notify's here: health
    # answers every certificate of the CA).
    healthcheck = (sys.executable, ROOT / "deploy" / "healthcheck.py")
    status, out = await run_with(stack.mesh.base_env() | stack.mesh.tls_env("notify"), *healthcheck, "grpc", address)
    assert status == 0 and "healthy" in out, out
    https_env = stack.mesh.base_env() | {"OMS_HEALTHCHECK_CA_FILE": str(ours / "ca.pem")}
    status, out = await run_with(https_env, *healthcheck, "http", f"{stack.gateway.base_url}/healthz")
    assert status == 0, out
