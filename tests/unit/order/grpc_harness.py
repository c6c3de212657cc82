"""A grpc.aio servicer on grpcio-testing's in-process server: real method descriptors, metadata and
status codes, with no port, no socket and no network.

grpc_testing calls a servicer's methods synchronously, each on a thread of its own; the servicers
here are coroutines. So each method is bridged: it runs, on the test's event loop, behind the
same error mapping and request checks the real server applies (mesh's ErrorInterceptor), with the
call's principal set inside the call as the auth interceptor sets it. A refusal ends the call with
its code, message and the ``grpc-status-details-bin`` trailer, which ``Outcome`` decodes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, NoReturn

import grpc
import grpc_testing  # type: ignore[import-untyped]  # no stubs; only this harness uses it
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from mesh.auth.principal import Principal, set_current_principal
from mesh.serving.grpc_errors import ErrorInterceptor

DETAILS_KEY = "grpc-status-details-bin"


class _AioContext:
    """grpc_testing's servicer context as a grpc.aio servicer uses it (abort is a coroutine)."""

    def __init__(self, context: grpc.ServicerContext) -> None:
        self._context = context

    def invocation_metadata(self) -> Any:
        return self._context.invocation_metadata()

    def set_trailing_metadata(self, trailing_metadata: Any) -> None:
        self._context.set_trailing_metadata(trailing_metadata)

    def time_remaining(self) -> float | None:
        return self._context.time_remaining()

    async def abort_with_status(self, status: grpc.Status) -> NoReturn:
        await self.abort(status.code, status.details, status.trailing_metadata)

    async def abort(self, code: grpc.StatusCode, details: str = "", trailing_metadata: Any = ()) -> NoReturn:
        # grpc_testing's own abort drops the trailers; a call that ends with these pending keeps them.
        self._context.set_trailing_metadata(tuple(trailing_metadata))
        self._context.set_code(code)
        self._context.set_details(details)
        raise grpc.aio.AbortError(code, details)


@dataclass(frozen=True)
class Outcome:
    """How one call ended: its response (None when refused), code, message and trailers."""

    response: Any
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, Any], ...]

    @property
    def status(self) -> status_pb2.Status:
        raw = dict(self.trailing_metadata).get(DETAILS_KEY)
        assert raw is not None, f"no status details in the trailers (code {self.code})"
        return status_pb2.Status.FromString(raw)

    def detail(self, kind: type[Any]) -> Any:
        """The first ``google.rpc`` detail of type ``kind`` in the status."""
        for packed in self.status.details:
            if packed.Is(kind.DESCRIPTOR):
                found = kind()
                packed.Unpack(found)
                return found
        raise AssertionError(f"no {kind.__name__} in the status details")

    @property
    def field_violations(self) -> list[tuple[str, str]]:
        bad_request = self.detail(error_details_pb2.BadRequest)
        return [(v.field, v.description) for v in bad_request.field_violations]

    @property
    def reason(self) -> str:
        return str(self.detail(error_details_pb2.ErrorInfo).reason)


class InProcessService:
    """One service's servicer behind grpc_testing's server; ``call`` awaits one unary RPC."""

    def __init__(self, service: ServiceDescriptor, servicer: object) -> None:
        self._service = service
        self._loop = asyncio.get_running_loop()
        self._principal: Principal | None = None
        bridged = {
            method.name: self._bridge(method.name, getattr(servicer, method.name))
            for method in service.methods
            if not method.client_streaming and not method.server_streaming
        }
        self._server = grpc_testing.server_from_dictionary(
            {service: SimpleNamespace(**bridged)}, grpc_testing.strict_real_time()
        )

    def _bridge(self, name: str, behavior: Callable[..., Any]) -> Callable[[Message, grpc.ServicerContext], Any]:
        handler = ErrorInterceptor().wrap(grpc.unary_unary_rpc_method_handler(behavior), name)
        checked = handler.unary_unary
        assert checked is not None

        def call(request: Message, context: grpc.ServicerContext) -> Any:
            principal = self._principal

            async def run() -> Any:
                if principal is not None:
                    set_current_principal(principal)  # inside the call's own task, as the interceptor does
                return await checked(request, _AioContext(context))  # type: ignore[arg-type]

            try:
                return asyncio.run_coroutine_threadsafe(run(), self._loop).result()
            except grpc.aio.AbortError:
                return None  # the call ends with the code and trailers the abort left pending

        return call

    async def call(
        self,
        name: str,
        request: Message,
        *,
        principal: Principal | None = None,
        metadata: Sequence[tuple[str, str]] = (),
    ) -> Outcome:
        self._principal = principal
        rpc = self._server.invoke_unary_unary(self._service.methods_by_name[name], tuple(metadata), request, None)
        # termination() blocks until the servicer is done; the servicer needs this event loop.
        response, trailing_metadata, code, details = await asyncio.to_thread(rpc.termination)
        return Outcome(response if code is grpc.StatusCode.OK else None, code, details, tuple(trailing_metadata))
