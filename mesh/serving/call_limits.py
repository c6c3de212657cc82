"""A cap on the unary RPCs one caller has in flight at once, on every service's own port.

The gateway limits request *rates*; a caller that talks to a service's port directly (or a
flood of slow calls through the gateway) is bounded here by *concurrency*: beyond
``OMS_<SVC>_MAX_CONCURRENT_CALLS_PER_PRINCIPAL`` calls in flight, the next is refused
RESOURCE_EXHAUSTED with a QuotaFailure and RetryInfo (the slots are ``mesh.serving.stream_slots``,
counted per process).

Whose calls: the token's subject, once the auth interceptor has set it (so this interceptor
sits after it, closest to the handler). A call without a subject (a public RPC without a
token, or auth disabled) counts for its peer address. The mesh's own services (role
``service``) are not limited here: one of them calls on behalf of many callers, who are each
limited where they came in.

Server streams are not counted: each is long-lived, and holds a slot of the stream caps that
every streaming RPC has (WatchOrder: ``OMS_ORDER_WATCH_MAX_PER_PRINCIPAL``); counting them
too would let a caller's open watches use up its budget for ordinary calls.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import grpc
from prometheus_client import Counter

from mesh.auth.authorization import ROLE_SERVICE
from mesh.auth.principal import SYNTHETIC_ADMIN, current_principal
from mesh.serving.errors import ResourceExhausted
from mesh.serving.grpc_wrap import Handler, Streaming, Unary, WrappingInterceptor, rewrap
from mesh.serving.stream_slots import StreamSlots

CALLS_REFUSED = Counter(
    "oms_grpc_calls_refused_concurrency",
    "RPCs refused RESOURCE_EXHAUSTED because their caller had too many in flight",
    ["service", "method"],
)
# A slot frees up when one of the caller's own calls ends: usually within milliseconds.
RETRY_AFTER_S = 1.0


class CallLimitInterceptor(WrappingInterceptor):
    def __init__(self, service: str, max_per_principal: int) -> None:
        self._service = service
        self._slots = StreamSlots(
            max_total=sys.maxsize,  # the process-wide bound is grpc's own (and the DB pool's)
            max_per_key=max_per_principal,
            what="calls",
            retry_after_s=RETRY_AFTER_S,
            reason="TOO_MANY_CALLS",
        )

    def open_for(self, key: str) -> int:
        return self._slots.open_for(key)

    def wrap(self, handler: Handler, method: str) -> Handler:
        if method.startswith("/grpc.health.") or method.startswith("/grpc.reflection."):
            return handler
        return rewrap(handler, unary=lambda behavior: self._limited(method, behavior), streaming=_as_is)

    def _limited(self, method: str, behavior: Unary) -> Unary:
        async def limited(request: Any, context: grpc.aio.ServicerContext) -> Any:
            key = caller_of(context)
            if key is None:
                return await behavior(request, context)
            with contextlib.ExitStack() as held:
                try:
                    held.enter_context(self._slots.claim(key))
                except ResourceExhausted:
                    CALLS_REFUSED.labels(self._service, method).inc()
                    raise  # mapped to its status by the error interceptor around this one
                return await behavior(request, context)

        return limited


def caller_of(context: grpc.aio.ServicerContext) -> str | None:
    """The slot key of the call's caller; None for the mesh's own services."""
    principal = current_principal()
    if principal is not None and ROLE_SERVICE in principal.roles:
        return None
    if principal is None or principal is SYNTHETIC_ADMIN or not principal.id:
        return "peer:" + _peer_host(context.peer() or "")
    return "sub:" + principal.id


def _peer_host(peer: str) -> str:
    # "ipv4:10.0.0.1:5555", "ipv6:[::1]:5555": the port changes per connection, the host does not.
    if peer.startswith(("ipv4:", "ipv6:")):
        return peer.rpartition(":")[0]
    return peer


def _as_is(behavior: Streaming) -> Streaming:
    return behavior
