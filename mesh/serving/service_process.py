"""The process of one service with the mesh's standard edge, the same for every service.

A service hands over what is its own (its settings, the descriptors of the services it serves,
how to register them, its workers and connections); the port, the mutual-TLS identity check,
authentication by the services' declared rules, the grace period and the per-caller cap on
calls in flight come from here, so no service wires them differently.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import grpc
from google.protobuf.descriptor import ServiceDescriptor

from mesh.auth.authorization import rules_of
from mesh.auth.interceptor import AuthServerInterceptor
from mesh.auth.settings import AuthSettings
from mesh.auth.tls import MeshTls, TlsSettings, server_interceptors
from mesh.auth.verification import TokenVerifier
from mesh.serving.server import ServiceProcess, Worker
from mesh.settings.common import ServiceSettings


def service_process(
    name: str,
    settings: ServiceSettings,
    *,
    services: Sequence[ServiceDescriptor],
    register: Callable[[grpc.aio.Server], None],
    auth: AuthSettings,
    tls: TlsSettings,
    workers: Sequence[Worker] = (),
    on_start: Sequence[Callable[[], Awaitable[object]]] = (),
    on_close: Sequence[Callable[[], Awaitable[object]]] = (),
) -> ServiceProcess:
    mesh_tls = MeshTls.from_settings(tls)
    return ServiceProcess(
        name=name,
        host=settings.grpc_host,
        port=settings.grpc_port,
        service_names=[service.full_name for service in services],
        register=register,
        workers=workers,
        # Calling a service's port directly never skips authentication (nor, with mTLS, the
        # check that the certificate names an allowed client).
        interceptors=[
            *server_interceptors(mesh_tls, settings.tls_allowed_clients),
            AuthServerInterceptor(TokenVerifier(auth), rules_of(services)),
        ],
        tls=mesh_tls,
        on_start=on_start,
        on_close=on_close,
        grace_s=settings.shutdown_grace_s,
        max_calls_per_principal=settings.max_concurrent_calls_per_principal,
    )
