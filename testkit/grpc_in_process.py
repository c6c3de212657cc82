"""A grpc.aio servicer called in process through grpcio-testing, with the mesh's own wrappers.

grpc_testing serves synchronous servicers: it runs each RPC's behaviour in a thread of its own
with a synchronous ServicerContext, and hands back (response, trailing metadata, code, details).
This bridge runs the async behaviour on an event loop in that thread, wrapped the way
mesh.serving.server wraps it (the auth interceptor when given, then the error interceptor with
its request checks), over a small grpc.aio-shaped view of grpc_testing's context.
Nothing here knows a service: every service's servicer tests use it. A status is
set and the behaviour returns, the synchronous servers' way of failing an RPC, because
grpc_testing's ``abort`` drops the trailing metadata that carries the BadRequest details.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import grpc
import grpc_testing  # type: ignore[import-untyped]  # ships no annotations
from google.protobuf import descriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from mesh.auth.interceptor import AuthServerInterceptor
from mesh.auth.principal import Principal, set_current_principal
from mesh.serving.grpc_errors import ErrorInterceptor

_STATUS_DETAILS = "grpc-status-details-bin"
Metadata = tuple[tuple[str, str | bytes], ...]


class _Aborted(grpc.aio.AbortError):
    """Ends the behaviour once a status is set, as grpc.aio's abort does (and passes the error interceptor)."""


class _AioContext:
    """What the mesh's wrappers and the servicers use of grpc.aio.ServicerContext."""

    def __init__(self, context: grpc.ServicerContext) -> None:
        self._context = context
        self._trailing: Metadata = ()

    def invocation_metadata(self) -> Any:
        return self._context.invocation_metadata()

    async def abort(self, code: grpc.StatusCode, details: str = "", trailing_metadata: Metadata = ()) -> None:
        self._context.set_code(code)
        self._context.set_details(details)
        if trailing_metadata:
            self.set_trailing_metadata(trailing_metadata)
        raise _Aborted

    async def abort_with_status(self, status: grpc.Status) -> None:
        await self.abort(status.code, status.details, status.trailing_metadata)

    def set_trailing_metadata(self, trailing_metadata: Metadata) -> None:
        self._trailing = tuple(trailing_metadata)
        self._context.set_trailing_metadata(self._trailing)

    def trailing_metadata(self) -> Metadata:
        return self._trailing

    def time_remaining(self) -> float | None:
        return self._context.time_remaining()

    def set_code(self, code: grpc.StatusCode) -> None:
        self._context.set_code(code)

    def set_details(self, details: str) -> None:
        self._context.set_details(details)


@dataclass(frozen=True)
class Reply:
    response: Any
    code: grpc.StatusCode
    details: str
    trailing_metadata: Metadata

    @property
    def status(self) -> status_pb2.Status:
        """The google.rpc.Status the error interceptor sent (empty when it sent none)."""
        for key, value in self.trailing_metadata:
            if key == _STATUS_DETAILS:
                return status_pb2.Status.FromString(value if isinstance(value, bytes) else value.encode())
        return status_pb2.Status()

    def detail(self, kind: type[Message]) -> Any:
        """The first detail of ``kind`` (BadRequest, PreconditionFailure, ...), or None."""
        for packed in self.status.details:
            if packed.Is(kind.DESCRIPTOR):
                found = kind()
                packed.Unpack(found)
                return found
        return None

    @property
    def reason(self) -> str:
        """The ErrorInfo reason ("NOT_FOUND", "STOCK_LIMIT", ...), or "" when there is none."""
        info = self.detail(error_details_pb2.ErrorInfo)
        return info.reason if info is not None else ""

    @property
    def field_violations(self) -> list[tuple[str, str]]:
        bad_request = self.detail(error_details_pb2.BadRequest)
        return [(v.field, v.description) for v in bad_request.field_violations] if bad_request else []


class InProcess:
    """Calls ``servicer``'s unary RPCs of ``service`` in process. ``principal`` stands in for what the
    auth interceptor would have set (the contextvar the servicer reads); ``auth`` runs the real one.

    ``unary()`` runs the call on a fresh loop in grpc_testing's thread; ``await call()`` runs it
    on the caller's loop, so fakes bound to that loop (events, locks, the watch hub) work as on
    a real server.
    """

    def __init__(
        self, servicer: object, service: descriptor.ServiceDescriptor, *, auth: AuthServerInterceptor | None = None
    ) -> None:
        self._service = service
        self._servicer = servicer
        self._auth = auth
        self._principal: Principal | None = None
        # The loop the behaviour runs on: the caller's for ``call()``, a fresh one for ``unary()``.
        self._loop: asyncio.AbstractEventLoop | None = None
        behaviours = {
            method.name: self._bridge(method)
            for method in service.methods
            if not method.client_streaming and not method.server_streaming
        }
        self._server = grpc_testing.server_from_dictionary(
            {service: type("SyncServicer", (), behaviours)()}, grpc_testing.strict_real_time()
        )

    def unary(
        self, method: str, request: Message, *, principal: Principal | None = None, metadata: Metadata = ()
    ) -> Reply:
        self._principal, self._loop = principal, None
        rpc = self._server.invoke_unary_unary(self._service.methods_by_name[method], metadata, request, None)
        return self._reply(*rpc.termination())

    async def call(
        self, method: str, request: Message, *, principal: Principal | None = None, metadata: Metadata = ()
    ) -> Reply:
        self._principal, self._loop = principal, asyncio.get_running_loop()
        rpc = self._server.invoke_unary_unary(self._service.methods_by_name[method], tuple(metadata), request, None)
        # termination() blocks until the behaviour is done, and the behaviour needs this loop.
        return self._reply(*await asyncio.to_thread(rpc.termination))

    @staticmethod
    def _reply(response: Any, trailing_metadata: Any, code: grpc.StatusCode, details: str) -> Reply:
        return Reply(response if code is grpc.StatusCode.OK else None, code, details, tuple(trailing_metadata))

    def _bridge(self, method: descriptor.MethodDescriptor) -> Any:
        full_name = f"/{self._service.full_name}/{method.name}"
        handler: grpc.RpcMethodHandler[Any, Any] = grpc.unary_unary_rpc_method_handler(
            getattr(self._servicer, method.name)
        )
        # Wrapped in the server's order: auth outside the error mapping (mesh.serving.server.serve).
        handler = ErrorInterceptor().wrap(handler, full_name)
        if self._auth is not None:
            handler = self._auth.wrap(handler, full_name)
        behaviour: Any = handler.unary_unary

        async def call(request: Message, context: _AioContext) -> Any:
            if self._principal is not None:
                set_current_principal(self._principal)  # this RPC's own task: it never leaks
            try:
                return await behaviour(request, context)
            except _Aborted:
                return None

        def sync_behaviour(_servicer: object, request: Message, context: grpc.ServicerContext) -> Any:
            if self._loop is not None:
                return asyncio.run_coroutine_threadsafe(call(request, _AioContext(context)), self._loop).result()
            return asyncio.run(call(request, _AioContext(context)))

        return sync_behaviour
