"""Runs one gRPC service process: health, reflection (v1 and v1alpha), workers, and a draining shutdown.

Health reports NOT_SERVING while starting and while draining. SIGTERM/SIGINT: stop taking
RPCs, let in-flight ones finish within the grace period, stop the workers (consumers commit
their offsets, the producer flushes), then close pools.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mesh.auth.tls import MeshTls, add_port
from mesh.serving.bounds import MAX_REQUEST_BYTES
from mesh.serving.call_limits import CallLimitInterceptor
from mesh.serving.grpc_errors import ErrorInterceptor, UndecodableRequestInterceptor
from mesh.serving.health import MeshHealthServicer
from mesh.serving.reflection import enable_reflection
from mesh.telemetry.grpc_metrics import MetricsInterceptor
from mesh.telemetry.grpc_server_tracing import TracingServerInterceptor
from mesh.telemetry.tracing import shutdown_tracing

log = logging.getLogger(__name__)

Worker = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


@dataclass
class ServiceProcess:
    """Everything a composition root hands over to be run."""

    name: str
    host: str
    port: int
    service_names: Sequence[str]
    register: Callable[[grpc.aio.Server], None]
    workers: Sequence[Worker] = ()
    interceptors: Sequence[grpc.aio.ServerInterceptor] = ()
    on_start: Sequence[Callable[[], Awaitable[object]]] = ()
    on_close: Sequence[Callable[[], Awaitable[object]]] = ()
    grace_s: float = 10.0
    # Mutual TLS on the port (mesh.auth.tls); None: plaintext. The identity check is one of
    # ``interceptors`` (mesh.auth.tls.server_interceptors), put there by the composition root.
    tls: MeshTls | None = None
    # Unary RPCs one caller may have in flight (mesh.serving.call_limits).
    max_calls_per_principal: int = 64
    started: asyncio.Event = field(default_factory=asyncio.Event)
    bound_port: int = 0


async def serve(process: ServiceProcess, stop: asyncio.Event | None = None, *, handle_signals: bool = True) -> None:
    """Runs until ``stop`` is set or (with ``handle_signals``) the process gets SIGTERM/SIGINT."""
    stop = stop or asyncio.Event()
    if handle_signals:
        _install_signal_handlers(stop)
    server = grpc.aio.server(
        # Tracing outermost (its span covers auth and errors), then RED metrics, then the
        # refusal of undecodable bytes (before anything reads the request), then the service's
        # own (auth), then the error mapping and request checks, then (knowing the caller from
        # auth, its refusal mapped by the error interceptor) the per-caller cap on calls in flight.
        interceptors=[
            TracingServerInterceptor(),
            MetricsInterceptor(process.name),
            UndecodableRequestInterceptor(),
            *process.interceptors,
            ErrorInterceptor(),
            CallLimitInterceptor(process.name, process.max_calls_per_principal),
        ],
        options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", MAX_REQUEST_BYTES)],
    )
    health = MeshHealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    process.register(server)
    # Reflection lists these and itself (v1 and v1alpha); health Check/Watch/List know the
    # whole server ("") and each of the service's own services.
    enable_reflection(server, [*process.service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name])
    for service in ["", *process.service_names]:
        await health.set(service, health_pb2.HealthCheckResponse.NOT_SERVING)
    process.bound_port = add_port(server, f"{process.host}:{process.port}", process.tls)
    for start in process.on_start:
        await start()
    await server.start()
    worker_stop = asyncio.Event()
    workers: list[asyncio.Task[None]] = [
        asyncio.create_task(w(worker_stop), name=f"{process.name}-worker-{i}") for i, w in enumerate(process.workers)
    ]
    for service in ["", *process.service_names]:
        await health.set(service, health_pb2.HealthCheckResponse.SERVING)
    log.info("serving", extra={"service": process.name, "address": f"{process.host}:{process.bound_port}"})
    process.started.set()
    try:
        await _until_stopped_or_worker_died(stop, workers)
    finally:
        log.info("draining", extra={"service": process.name})
        await health.enter_graceful_shutdown()
        await server.stop(process.grace_s)
        worker_stop.set()
        await _await_workers(workers, timeout_s=process.grace_s + 5)
        for close in process.on_close:
            await close()
        shutdown_tracing()
        log.info("stopped", extra={"service": process.name})


async def _until_stopped_or_worker_died(stop: asyncio.Event, workers: list[asyncio.Task[None]]) -> None:
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopper, *workers], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    for task in done:
        if task is not stopper and task.exception() is not None:
            # A worker that dies takes the process down so a supervisor restarts it whole.
            raise RuntimeError(f"worker {task.get_name()} failed") from task.exception()


async def _await_workers(workers: list[asyncio.Task[None]], *, timeout_s: float) -> None:
    if not workers:
        return
    _, pending = await asyncio.wait(workers, timeout=timeout_s)
    for task in pending:
        task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Not possible off the main thread (e.g. in-process tests): there the caller sets ``stop``.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
