"""One long-lived channel per upstream (mutual TLS with OMS_TLS_*, plaintext without), and
generic calls that need no stubs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.descriptors import Method, services_by_upstream
from gateway.headers import Metadata
from mesh.auth.tls import MeshTls
from mesh.auth.tls import channel as mesh_channel
from mesh.resilience.client_policy import channel_options

# The largest response read from an upstream: a full page of the largest listing at the largest
# page size (ListOrders: 500 orders of 100 lines, every text at its bound and 4 bytes a
# character, about 94 MiB), as gateway/response_bounds.py computes from the contracts; gRPC's
# default of 4 MiB would turn a legitimate page of products with long descriptions into a 429.
# tests/unit/gateway/test_gateway_upstream_limits.py keeps the two in step.
MAX_RESPONSE_BYTES = 100 * 1024 * 1024


class Upstreams:
    """Channels are created by ``start()`` (app startup), reused by every call, closed by ``close()``."""

    def __init__(self, addresses: Mapping[str, str], connect_timeout_s: float, tls: MeshTls | None = None) -> None:
        self.addresses = dict(addresses)
        self._tls = tls
        self._connect_ms = int(connect_timeout_s * 1000)
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._callables: dict[str, Any] = {}

    def start(self) -> None:
        options = [
            # A dead upstream must fail calls fast (503), not leave them waiting for a connect.
            ("grpc.min_reconnect_backoff_ms", self._connect_ms),
            ("grpc.initial_reconnect_backoff_ms", min(250, self._connect_ms)),
            ("grpc.max_reconnect_backoff_ms", max(5000, self._connect_ms)),
            # Upstreams are internal: an HTTP(S)_PROXY meant for the outside world must not apply.
            ("grpc.enable_http_proxy", 0),
            ("grpc.max_receive_message_length", MAX_RESPONSE_BYTES),
        ]
        services = services_by_upstream()
        for name, address in self.addresses.items():
            # Every call a CLIENT span whose context travels in the metadata (W3C traceparent);
            # with mTLS on, the gateway's certificate is what the services' allowed lists name.
            # An address may name several replicas (dns:///…, ipv4:a,b): calls are balanced
            # round robin over the healthy ones and reads retried on another (client_policy).
            balancing = channel_options(services.get(name, []))
            self._channels[name] = mesh_channel(address, self._tls, options=options + balancing)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close(grace=None)
        self._channels.clear()
        self._callables.clear()

    def _channel(self, name: str) -> grpc.aio.Channel:
        try:
            return self._channels[name]
        except KeyError:
            raise RuntimeError(f"upstream {name!r} is not started") from None

    def unary(self, method: Method) -> Any:
        return self._callable(method, streaming=False)

    def server_stream(self, method: Method) -> Any:
        return self._callable(method, streaming=True)

    def _callable(self, method: Method, *, streaming: bool) -> Any:
        cached = self._callables.get(method.grpc_path)
        if cached is None:
            channel = self._channel(method.upstream)
            factory = channel.unary_stream if streaming else channel.unary_unary
            cached = factory(
                method.grpc_path,
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=method.output_class.FromString,
            )
            self._callables[method.grpc_path] = cached
        return cached

    async def check(self, name: str, timeout_s: float, metadata: Metadata | None = None) -> str:
        """``grpc.health.v1.Health/Check`` of the whole server → a status name (or the error code).

        The channel balances over the replicas that report SERVING, so an upstream with none
        (all down or all draining) answers UNAVAILABLE here rather than NOT_SERVING.
        """
        stub = health_pb2_grpc.HealthStub(self._channel(name))
        try:
            reply = await stub.Check(
                health_pb2.HealthCheckRequest(), timeout=timeout_s, wait_for_ready=False, metadata=metadata
            )
        except grpc.aio.AioRpcError as exc:
            return str(exc.code().name)
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
