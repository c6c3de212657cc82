"""mTLS on the gRPC hops: the settings, and the identity check on a real in-process port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from inventory_svc.settings import InventorySettings
from mesh.auth import dev_certs
from mesh.auth.tls import MeshTls, PeerIdentityInterceptor, TlsSettings, add_port, channel, server_interceptors
from mesh.settings.common import SettingsError, load
from order_svc.settings import OrderSettings


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("certs")
    dev_certs.write(folder)
    return folder


def material(folder: Path, identity: str) -> MeshTls:
    tls = MeshTls.from_settings(
        TlsSettings(
            ca_file=folder / "ca.pem", cert_file=folder / f"{identity}.pem", key_file=folder / f"{identity}-key.pem"
        )
    )
    assert tls is not None
    return tls


def test_tls_is_off_unless_the_three_files_are_set(monkeypatch: pytest.MonkeyPatch, certs: Path) -> None:
    for name in ("OMS_TLS_CA_FILE", "OMS_TLS_CERT_FILE", "OMS_TLS_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    off = load(TlsSettings)
    assert not off.enabled and MeshTls.from_settings(off) is None
    assert server_interceptors(None, ["gateway"]) == []

    monkeypatch.setenv("OMS_TLS_CA_FILE", str(certs / "ca.pem"))
    with pytest.raises(SettingsError, match="set all of OMS_TLS_CA_FILE, OMS_TLS_CERT_FILE and OMS_TLS_KEY_FILE"):
        load(TlsSettings)
    monkeypatch.setenv("OMS_TLS_CERT_FILE", str(certs / "order.pem"))
    monkeypatch.setenv("OMS_TLS_KEY_FILE", str(certs / "missing-key.pem"))
    with pytest.raises(SettingsError, match=r"OMS_TLS_KEY_FILE=.*no such file"):
        load(TlsSettings)
    monkeypatch.setenv("OMS_TLS_KEY_FILE", str(certs / "order-key.pem"))
    on = load(TlsSettings)
    tls = MeshTls.from_settings(on)
    assert on.enabled and tls is not None and tls.cert.startswith(b"-----BEGIN CERTIFICATE-----")


def test_allowed_clients_are_a_comma_separated_list_with_defaults_per_service(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "order" in InventorySettings().tls_allowed_clients
    assert "order" not in OrderSettings().tls_allowed_clients
    monkeypatch.setenv("OMS_ORDER_TLS_ALLOWED_CLIENTS", " gateway , edge-2,")
    assert load(OrderSettings).tls_allowed_clients == ("gateway", "edge-2")


@pytest.fixture
async def port(certs: Path) -> AsyncIterator[int]:
    """A TLS port with health and one more service (reflection), allowing only the gateway."""
    from grpc_reflection.v1alpha import reflection

    server = grpc.aio.server(interceptors=server_interceptors(material(certs, "inventory"), ["gateway"]))
    health_pb2_grpc.add_HealthServicer_to_server(HealthServicer(), server)
    reflection.enable_server_reflection([reflection.SERVICE_NAME], server)
    bound = add_port(server, "127.0.0.1:0", material(certs, "inventory"))
    await server.start()
    try:
        yield bound
    finally:
        await server.stop(None)


async def _list_services(target: str, tls: MeshTls) -> None:
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    ch = channel(target, tls)
    try:
        stub = reflection_pb2_grpc.ServerReflectionStub(ch)
        async for _ in stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        ):
            break
    finally:
        await ch.close()


async def test_an_allowed_identity_is_served_and_another_certificate_of_the_ca_is_refused(
    port: int, certs: Path
) -> None:
    await _list_services(f"127.0.0.1:{port}", material(certs, "gateway"))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _list_services(f"127.0.0.1:{port}", material(certs, "notify"))
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "notify" not in (raised.value.details() or "")


async def test_health_is_open_to_every_certificate_of_the_ca_and_to_no_one_else(
    port: int, certs: Path, tmp_path: Path
) -> None:
    ch = channel(f"localhost:{port}", material(certs, "notify"))
    try:
        reply = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await ch.close()
    dev_certs.write(tmp_path)
    ours = material(certs, "gateway")
    stranger = MeshTls(ours.ca, (tmp_path / "gateway.pem").read_bytes(), (tmp_path / "gateway-key.pem").read_bytes())
    ch = channel(f"127.0.0.1:{port}", stranger)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await ch.close()


async def test_the_client_checks_the_servers_name(port: int, certs: Path) -> None:
    # The server's certificate names inventory, localhost and 127.0.0.1; a client expecting
    # another host (the override stands for dialling one) refuses it, though our CA signed it.
    creds = material(certs, "gateway").channel_credentials()
    ch = grpc.aio.secure_channel(
        f"127.0.0.1:{port}", creds, options=[("grpc.ssl_target_name_override", "elsewhere.example")]
    )
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await ch.close()


def test_an_empty_allowed_list_admits_every_certificate_of_the_ca(certs: Path) -> None:
    assert server_interceptors(material(certs, "order"), []) == []
    assert isinstance(server_interceptors(material(certs, "order"), ["gateway"])[0], PeerIdentityInterceptor)
