"""The whole mesh observed: an OTLP receiver of the test's own, the four processes exporting to
it, metrics ports, and the gateway in front (for the tracing, metrics and logs e2e tests).

``SpanReceiver`` is an OTLP/gRPC trace collector (``TraceService/Export``) in a grpc.aio server
on a free port; it keeps every span it receives, flattened to ``ReceivedSpan``.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2

from testkit.clients import unique
from testkit.processes import GatewayProcess, Mesh, free_port
from tests.e2e.gateway_support import payment_env
from tests.integration.notify.support import SmtpServer

SERVICES = ("gateway", "order_svc", "inventory_svc", "notify_svc", "payment_svc")
# opentelemetry.proto.trace.v1.Span.SpanKind
SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    attributes: dict[str, Any]
    links: tuple[tuple[str, str], ...]  # (trace id, span id)


def _value(value: common_pb2.AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


class SpanReceiver(trace_service_pb2_grpc.TraceServiceServicer):
    """Collects what the processes export; ``endpoint`` is what OTEL_EXPORTER_OTLP_ENDPOINT takes."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.port = free_port()
        self._server: grpc.aio.Server | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.aio.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            service = str(resource.get("service.name", ""))
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        ReceivedSpan(
                            service=service,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            name=span.name,
                            kind=span.kind,
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            links=tuple((link.trace_id.hex(), link.span_id.hex()) for link in span.links),
                        )
                    )
        return trace_service_pb2.ExportTraceServiceResponse()

    async def start(self) -> None:
        self._server = grpc.aio.server()
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self._server)  # type: ignore[no-untyped-call]
        self._server.add_insecure_port(f"127.0.0.1:{self.port}")
        await self._server.start()

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=None)

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        return [s for s in list(self.spans) if s.trace_id == trace_id]


def new_traceparent() -> tuple[str, str, str]:
    """A sampled W3C ``traceparent`` of a caller outside the mesh: (header, trace id, span id)."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


@dataclass
class ObservedStack:
    mesh: Mesh
    gateway: GatewayProcess
    smtp: SmtpServer
    http: httpx.AsyncClient
    # service name → its Prometheus port ("gateway" is served on the gateway's own port)
    metrics_ports: dict[str, int] = field(default_factory=dict)

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.mesh.token()}"}

    async def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        reply = await self.http.request(method, path, json=body, headers=self.admin | (headers or {}))
        assert reply.status_code == 200, f"{method} {path} → {reply.status_code}: {reply.text}"
        return reply.json()

    async def product(self, stock: int) -> str:
        product_id = unique("p")
        price = {"currencyCode": "EUR", "units": "12", "nanos": 500_000_000}
        await self.call(
            "POST", "/products", {"productId": product_id, "name": "Widget", "price": price, "active": True}
        )
        await self.call("POST", "/api/inventory/add", {"productId": product_id, "quantity": str(stock)})
        return product_id

    async def customer(self) -> str:
        customer_id = unique("c")
        customer = {"customerId": customer_id, "name": "Ada Lovelace", "email": f"{customer_id}@example.com"}
        await self.call("POST", "/customers", customer)
        return customer_id

    def log_lines(self, service: str) -> Iterator[dict[str, Any]]:
        """The JSON log lines a process wrote so far (other output skipped)."""
        if service == "gateway":
            path = self.gateway.log_path
        else:
            path = self.mesh.services[service.removesuffix("_svc")].log_path
        for line in path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict):
                    yield entry


def _otel_env(service: str, endpoint: str | None) -> dict[str, str]:
    if endpoint is None:
        return {"OTEL_SERVICE_NAME": service, "OTEL_TRACES_EXPORTER": "none"}
    return {
        "OTEL_SERVICE_NAME": service,
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_TRACES_SAMPLER": "always_on",
    }


@contextlib.asynccontextmanager
async def observed_stack(mesh: Mesh, *, otlp_endpoint: str | None) -> AsyncIterator[ObservedStack]:
    """inventory, orders, notify (mailing a local aiosmtpd), payment and the gateway, each with a metrics
    port and, when ``otlp_endpoint`` is given, exporting its spans there."""
    smtp = SmtpServer()
    smtp.start()
    ports = {name: free_port() for name in ("inventory", "order", "notify", "payment")}

    def env(name: str) -> dict[str, str]:
        return _otel_env(f"{name}_svc", otlp_endpoint) | {f"OMS_{name.upper()}_METRICS_PORT": str(ports[name])}

    gateway: GatewayProcess | None = None
    try:
        inventory = await mesh.add("inventory", extra_env=env("inventory"))
        await inventory.start()
        order = await mesh.add("order", extra_env=env("order") | {"OMS_ORDER_INVENTORY_ADDR": inventory.address})
        await order.start()
        notify = await mesh.add(
            "notify",
            extra_env=env("notify") | {"OMS_NOTIFY_SMTP_PORT": str(smtp.port), "OMS_NOTIFY_SMTP_TIMEOUT_S": "2"},
        )
        await notify.start()
        payment = await mesh.add("payment", extra_env=env("payment") | payment_env(mesh))
        await payment.start()
        port = free_port()
        gateway_env = mesh.base_env() | _otel_env("gateway", otlp_endpoint)
        gateway_env |= {
            "OMS_GATEWAY_PORT": str(port),
            "OMS_GATEWAY_ORDER_ADDR": order.address,
            "OMS_GATEWAY_INVENTORY_ADDR": inventory.address,
            "OMS_GATEWAY_NOTIFY_ADDR": notify.address,
            "OMS_GATEWAY_PAYMENT_ADDR": payment.address,
        }
        gateway = GatewayProcess(port, gateway_env, mesh.workdir / "gateway.log")
        await gateway.start()
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30.0) as http:
            yield ObservedStack(
                mesh, gateway, smtp, http, {f"{n}_svc": p for n, p in ports.items()} | {"gateway": port}
            )
    finally:
        if gateway is not None:
            await gateway.stop()
        smtp.stop()
