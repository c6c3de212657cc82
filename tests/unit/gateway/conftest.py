"""Real in-process grpc.aio upstreams with fake servicers of the generated service classes,
and the gateway app driven in-process (httpx ASGITransport) or over a real uvicorn socket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import pytest
import uvicorn
from google.protobuf import any_pb2, descriptor
from google.protobuf.message import Message
from google.rpc import status_pb2
from grpc_health.v1 import health, health_pb2_grpc

from gateway.app import GatewayApp, create_app
from gateway.descriptors import Method
from gateway.settings import GatewaySettings
from mesh.auth.minting import mint_token
from mesh.auth.settings import AuthSettings
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from oms.inventory.v1 import operations_pb2 as inventory_ops_pb2
from oms.inventory.v1 import operations_pb2_grpc as inventory_ops_pb2_grpc
from oms.notify.v1 import notify_pb2, notify_pb2_grpc, webhooks_pb2, webhooks_pb2_grpc
from oms.notify.v1 import operations_pb2 as notify_ops_pb2
from oms.notify.v1 import operations_pb2_grpc as notify_ops_pb2_grpc
from oms.order.v1 import customer_pb2, customer_pb2_grpc, order_pb2, order_pb2_grpc
from oms.order.v1 import operations_pb2 as order_ops_pb2
from oms.order.v1 import operations_pb2_grpc as order_ops_pb2_grpc

SECRET = "gateway-unit-test-secret-long-enough-for-hs256"
AUTH = AuthSettings(jwt_secret=SECRET, jwks=None)

Behavior = Callable[[Any, grpc.aio.ServicerContext], Any]


@dataclass
class Call:
    upstream: str
    method: str
    request: Any
    metadata: dict[str, str | bytes]
    time_remaining: float | None


@dataclass
class Recorder:
    """What the fakes received, and what they should answer (``behaviors[MethodName]``)."""

    calls: list[Call] = field(default_factory=list)
    behaviors: dict[str, Behavior] = field(default_factory=dict)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)

    def last(self, method_name: str) -> Call:
        matching = [c for c in self.calls if c.method.endswith(f"/{method_name}")]
        assert matching, f"{method_name} was not called; calls: {[c.method for c in self.calls]}"
        return matching[-1]


def rich_abort_metadata(code: grpc.StatusCode, message: str, details: list[Message]) -> tuple[tuple[str, bytes], ...]:
    packed = []
    for detail in details:
        holder = any_pb2.Any()
        holder.Pack(detail)
        packed.append(holder)
    status = status_pb2.Status(code=code.value[0], message=message, details=packed)
    return (("grpc-status-details-bin", status.SerializeToString()),)


def _fake(servicer_class: type, service: descriptor.ServiceDescriptor, upstream: str, recorder: Recorder) -> Any:
    """A subclass of the real generated servicer whose every RPC records and then behaves."""

    def record(method: descriptor.MethodDescriptor, request: Any, context: grpc.aio.ServicerContext) -> None:
        recorder.calls.append(
            Call(
                upstream=upstream,
                method=Method(method, upstream).grpc_path,
                request=request,
                metadata={k: v for k, v in context.invocation_metadata() or ()},
                time_remaining=context.time_remaining(),
            )
        )

    def unary(method: descriptor.MethodDescriptor) -> Callable[..., Awaitable[Any]]:
        async def handler(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
            record(method, request, context)
            behavior = recorder.behaviors.get(method.name)
            if behavior is not None:
                return await behavior(request, context)
            return Method(method, upstream).output_class()

        return handler

    def streaming(method: descriptor.MethodDescriptor) -> Callable[..., AsyncIterator[Any]]:
        async def handler(self: Any, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            record(method, request, context)
            behavior = recorder.behaviors.get(method.name)
            try:
                if behavior is not None:
                    async for reply in behavior(request, context):
                        yield reply
            except asyncio.CancelledError:
                recorder.cancelled.set()
                raise

        return handler

    body = {m.name: (streaming(m) if m.server_streaming else unary(m)) for m in service.methods}
    return type(f"Fake{service.name}", (servicer_class,), body)()


@dataclass
class Upstream:
    name: str
    address: str
    server: grpc.aio.Server
    health: health.aio.HealthServicer


# Upstream → (messages module, stubs module, service name): the real generated classes.
SERVICES = {
    "order": [
        (order_pb2, order_pb2_grpc, "OrderService"),
        (customer_pb2, customer_pb2_grpc, "CustomerService"),
        (order_ops_pb2, order_ops_pb2_grpc, "OrderOperationsService"),
    ],
    "inventory": [
        (inventory_pb2, inventory_pb2_grpc, "InventoryService"),
        (inventory_ops_pb2, inventory_ops_pb2_grpc, "InventoryOperationsService"),
    ],
    "notify": [
        (notify_pb2, notify_pb2_grpc, "NotificationService"),
        (notify_ops_pb2, notify_ops_pb2_grpc, "NotifyOperationsService"),
        (webhooks_pb2, webhooks_pb2_grpc, "WebhookService"),
    ],
}


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def upstreams(recorder: Recorder) -> AsyncIterator[dict[str, Upstream]]:
    started: dict[str, Upstream] = {}
    for name, services in SERVICES.items():
        server = grpc.aio.server()
        for messages, stubs, service_name in services:
            servicer_class = getattr(stubs, f"{service_name}Servicer")
            fake = _fake(servicer_class, messages.DESCRIPTOR.services_by_name[service_name], name, recorder)
            getattr(stubs, f"add_{service_name}Servicer_to_server")(fake, server)
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        started[name] = Upstream(name, f"127.0.0.1:{port}", server, health_servicer)
    yield started
    await asyncio.gather(*(u.server.stop(None) for u in started.values()))


# Unit tests count in memory, and so high that only the rate-limit tests ever reach a limit.
GENEROUS_RATE_LIMITS: dict[str, Any] = {
    "rate_limit_storage": "memory",
    **{f"rate_limit_{kind}": "1000000/minute" for kind in ("reads", "writes", "placement", "streams")},
}


def settings_for(upstreams: dict[str, Upstream], **overrides: Any) -> GatewaySettings:
    addresses = {f"{name}_addr": u.address for name, u in upstreams.items()}
    return GatewaySettings(**{**addresses, **GENEROUS_RATE_LIMITS, **overrides})


@pytest.fixture
def gateway_settings(upstreams: dict[str, Upstream]) -> GatewaySettings:
    return settings_for(upstreams, cors_origins=("https://shop.example",))


@pytest.fixture
async def app(gateway_settings: GatewaySettings) -> AsyncIterator[GatewayApp]:
    application = create_app(gateway_settings, AUTH)
    async with application.lifespan():
        yield application


def token(sub: str = "admin-1", roles: tuple[str, ...] = ("admin",), **kwargs: Any) -> str:
    return mint_token(sub, roles, AUTH, **kwargs)


@pytest.fixture
async def client(app: GatewayApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 4567))
    headers = {"authorization": f"Bearer {token()}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test", headers=headers) as http:
        yield http


@pytest.fixture
async def served(app: GatewayApp) -> AsyncIterator[str]:
    """The app on a real socket (port 0): for streams and client disconnects."""
    async with serve(app) as base_url:
        yield base_url


@asynccontextmanager
async def serve(app: GatewayApp) -> AsyncIterator[str]:
    """Runs ``app`` (lifespan already entered) under uvicorn on 127.0.0.1, port 0."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        assert not task.done(), "uvicorn exited"
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await asyncio.wait_for(task, 10)
