"""An async servicer under grpcio-testing: in process, no port, no channel.

grpc_testing calls a servicer's methods synchronously (in a thread of its own), so each method
of the service is given a synchronous stand-in that runs the coroutine on a loop of that thread,
inside the caller's principal (mesh.auth.principal, as the auth interceptor would set it), and
maps a raised error as mesh.serving.grpc_errors does on a real server: status code, message and
the google.rpc.Status details in the ``grpc-status-details-bin`` trailer.

Nothing here knows a service: the servicer and its service descriptor are arguments.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import grpc
import grpc_testing  # type: ignore[import-untyped]
from google.protobuf import descriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from mesh.auth.principal import SYNTHETIC_ADMIN, Principal, set_current_principal
from mesh.serving.grpc_errors import as_mesh_error, to_status

STATUS_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class Reply:
    """What the caller got: the response (None on an error), the status and its details."""

    response: Any
    code: grpc.StatusCode
    details: str
    status: status_pb2.Status = field(default_factory=status_pb2.Status)

    def detail(self, kind: type[Message]) -> Any:
        """The first detail of ``kind`` (BadRequest, ErrorInfo, PreconditionFailure …), or None."""
        for packed in self.status.details:
            if packed.Is(kind.DESCRIPTOR):
                found = kind()
                packed.Unpack(found)
                return found
        return None

    @property
    def reason(self) -> str:
        info = self.detail(error_details_pb2.ErrorInfo)
        return info.reason if info is not None else ""

    @property
    def field_violations(self) -> list[tuple[str, str]]:
        bad = self.detail(error_details_pb2.BadRequest)
        return [(v.field, v.description) for v in bad.field_violations] if bad is not None else []


class ServicerHarness:
    """``harness.call("GetStock", request, principal=...)`` → Reply."""

    def __init__(self, servicer: object, service: descriptor.ServiceDescriptor) -> None:
        self._service = service
        self._principal: Principal = SYNTHETIC_ADMIN
        stand_in = SimpleNamespace(**{m.name: self._stand_in(getattr(servicer, m.name)) for m in service.methods})
        self._server = grpc_testing.server_from_dictionary({service: stand_in}, grpc_testing.strict_real_time())

    def call(
        self,
        method: str,
        request: Message,
        *,
        principal: Principal = SYNTHETIC_ADMIN,
        metadata: tuple[tuple[str, str], ...] = (),
    ) -> Reply:
        self._principal = principal
        rpc = self._server.invoke_unary_unary(self._service.methods_by_name[method], metadata, request, None)
        response, trailing, code, details = rpc.termination()
        status = status_pb2.Status()
        for key, value in trailing or ():
            if key == STATUS_DETAILS_KEY:
                status.ParseFromString(value)
        return Reply(response, code, details, status)

    def _stand_in(self, behavior: Callable[[Any, Any], Coroutine[Any, Any, Any]]) -> Callable[[Any, Any], Any]:
        def unary(request: Any, context: Any) -> Any:
            principal = self._principal

            async def in_rpc() -> Any:
                set_current_principal(principal)
                return await behavior(request, context)

            try:
                return asyncio.run(in_rpc())
            except Exception as exc:
                failed = rpc_status.to_status(to_status(as_mesh_error(exc)))
                # Not context.abort: grpc_testing drops the trailing metadata of an aborted call.
                context.set_trailing_metadata(failed.trailing_metadata)
                context.set_code(failed.code)
                context.set_details(failed.details)
                return None

        return unary
