"""The standard services every mesh port serves (mesh.serving.server): reflection v1 and v1alpha,
health Check, Watch and List, on a real in-process grpc.aio server started by ``serve``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

from mesh.serving import server as server_module
from mesh.serving.health import MAX_LISTED_SERVICES, MeshHealthServicer
from mesh.serving.reflection import V1_FILE, V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME, v1_file_descriptor
from mesh.serving.server import ServiceProcess, serve

ECHO = "test.v1.Echo"
PROBE = "test.v1.Probe"
HEALTH = "grpc.health.v1.Health"


@dataclass
class Served:
    channel: grpc.aio.Channel
    stop: asyncio.Event


async def _echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


def _register(server: grpc.aio.Server) -> None:
    for name in (ECHO, PROBE):
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(name, {"Say": grpc.unary_unary_rpc_method_handler(_echo)}),)
        )


@pytest.fixture
async def served(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    # serve() flushes and shuts down the global tracer provider on its way out: not in a test run.
    monkeypatch.setattr(server_module, "shutdown_tracing", lambda: None)
    process = ServiceProcess(
        name=f"std-{uuid.uuid4().hex[:8]}",
        host="127.0.0.1",
        port=0,
        service_names=[ECHO, PROBE],
        register=_register,
        grace_s=0.5,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(serve(process, stop, handle_signals=False))
    try:
        await asyncio.wait_for(process.started.wait(), timeout=10)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{process.bound_port}") as channel:
            yield Served(channel, stop)
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=10)


def _v1_message(name: str) -> Any:
    pool_descriptor = v1_file_descriptor().message_types_by_name[name]
    return message_factory.GetMessageClass(pool_descriptor)


async def _reflect(channel: grpc.aio.Channel, service: str, request: Any, response_type: Any) -> Any:
    """One request on the reflection stream of ``service`` (v1 or v1alpha), its one answer."""
    info = channel.stream_stream(
        f"/{service}/ServerReflectionInfo",
        request_serializer=lambda message: message.SerializeToString(),
        response_deserializer=response_type.FromString,
    )
    call = info(iter([request]), timeout=5)
    (response,) = [r async for r in call]
    return response


def _reflection_messages(service: str) -> tuple[Any, Any]:
    """Request and response classes: v1's from its derived descriptor, v1alpha's as shipped."""
    if service == V1_SERVICE_NAME:
        return _v1_message("ServerReflectionRequest"), _v1_message("ServerReflectionResponse")
    return reflection_pb2.ServerReflectionRequest, reflection_pb2.ServerReflectionResponse


@pytest.mark.parametrize("service", [V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME])
async def test_reflection_v1_and_v1alpha_both_list_every_service(served: Served, service: str) -> None:
    request_class, response_class = _reflection_messages(service)
    response = await _reflect(served.channel, service, request_class(list_services=""), response_class)
    listed = {s.name for s in response.list_services_response.service}
    assert listed == {ECHO, PROBE, HEALTH, V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME}


async def test_reflection_v1_describes_itself_as_the_v1_proto(served: Served) -> None:
    """What grpcurl ``describe`` asks: the file declaring a symbol, here v1 reflection itself."""
    request = _v1_message("ServerReflectionRequest")(file_containing_symbol=V1_SERVICE_NAME)
    response = await _reflect(served.channel, V1_SERVICE_NAME, request, _v1_message("ServerReflectionResponse"))
    assert not response.HasField("error_response"), response.error_response
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in response.file_descriptor_response.file_descriptor_proto
    ]
    (file,) = [f for f in files if f.name == V1_FILE]
    assert file.package == "grpc.reflection.v1"
    assert not file.options.deprecated  # v1alpha's is; v1 is the current one
    (method,) = file.service[0].method
    assert (method.input_type, method.output_type) == (
        ".grpc.reflection.v1.ServerReflectionRequest",
        ".grpc.reflection.v1.ServerReflectionResponse",
    )
    assert method.client_streaming and method.server_streaming
    referenced = {f.type_name for m in file.message_type for f in m.field if f.type_name}
    assert referenced and all(t.startswith(".grpc.reflection.v1.") for t in referenced)


async def test_health_check_and_list_report_every_service_serving(served: Served) -> None:
    health = health_pb2_grpc.HealthStub(served.channel)
    reply = await health.List(health_pb2.HealthListRequest(), timeout=5)
    statuses = {name: response.status for name, response in reply.statuses.items()}
    assert statuses == {
        "": health_pb2.HealthCheckResponse.SERVING,
        ECHO: health_pb2.HealthCheckResponse.SERVING,
        PROBE: health_pb2.HealthCheckResponse.SERVING,
    }
    for name in statuses:
        checked = await health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
        assert checked.status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await health.Check(health_pb2.HealthCheckRequest(service="test.v1.Nobody"), timeout=5)
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


async def test_health_watch_streams_the_change_to_not_serving_when_the_process_drains(served: Served) -> None:
    health = health_pb2_grpc.HealthStub(served.channel)
    watch = health.Watch(health_pb2.HealthCheckRequest(service=ECHO), timeout=10)
    first = await asyncio.wait_for(watch.read(), timeout=5)
    assert first.status == health_pb2.HealthCheckResponse.SERVING
    served.stop.set()
    second = await asyncio.wait_for(watch.read(), timeout=5)
    assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING
    watch.cancel()


async def test_health_list_refuses_a_runaway_number_of_services_with_resource_exhausted() -> None:
    servicer = MeshHealthServicer()
    for i in range(MAX_LISTED_SERVICES + 1):
        await servicer.set(f"test.v1.S{i}", health_pb2.HealthCheckResponse.SERVING)
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await health_pb2_grpc.HealthStub(channel).List(health_pb2.HealthListRequest(), timeout=5)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        await server.stop(grace=None)
