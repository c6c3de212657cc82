"""The gRPC server interceptor that enforces each RPC's declared rule on the service's own port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import grpc
from google.protobuf.message import Message

from mesh.auth.authorization import PUBLIC_METHOD_PREFIXES, Access, Denied, Rule
from mesh.auth.principal import ANONYMOUS, SYNTHETIC_ADMIN, set_current_principal
from mesh.auth.verification import AuthError, TokenVerifier, verify_off_loop
from mesh.serving.grpc_wrap import Handler, Streaming, Unary, WrappingInterceptor, rewrap
from mesh.serving.wire import metadata_value


class AuthServerInterceptor(WrappingInterceptor):
    """Enforces each RPC's declared rule (``mesh.auth.authorization``) on the service's own port.

    The rules are read from the descriptors once, when the interceptor is built; a method
    without one is refused. The check runs inside the RPC (wrapping the handler) so it can abort
    with a proper status, see the request (a customer's ``owner_field``) and set the principal
    in the handler's own context; grpc.aio runs each RPC in its own task, so the contextvar
    never leaks between calls.
    """

    def __init__(
        self,
        verifier: TokenVerifier,
        method_rules: Mapping[str, Rule],
        public_methods_prefixes: tuple[str, ...] = PUBLIC_METHOD_PREFIXES,
    ) -> None:
        self._verifier = verifier
        # The service's own rules (mesh.auth.authorization.rules_of its services), handed over at
        # bootstrap: mesh holds the mechanism, the contract of each service the policy.
        self._rules = dict(method_rules)
        self._public = public_methods_prefixes

    def wrap(self, handler: Handler, method: str) -> Handler:
        if method.startswith(self._public):
            return handler
        rule = self._rules.get(method) or Rule(method, Access.UNSPECIFIED)
        return _wrap_handler(handler, lambda request, context: self._authorize(rule, request, context))

    async def _authorize(self, rule: Rule, request: Any, context: grpc.aio.ServicerContext) -> None:
        header = metadata_value(context.invocation_metadata(), "authorization")
        try:
            if header is None and not rule.needs_token:
                principal = ANONYMOUS if self._verifier.settings.enabled else SYNTHETIC_ADMIN
            else:
                principal = await verify_off_loop(self._verifier, header)
        except AuthError as exc:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
            raise  # abort raises; this only tells readers (and mypy) that we never go on
        try:
            rule.check(principal, request if isinstance(request, Message) else None)
        except Denied as exc:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(exc))
        set_current_principal(principal)


_Check = Callable[[Any, grpc.aio.ServicerContext], Awaitable[None]]


def _wrap_handler(handler: grpc.RpcMethodHandler[Any, Any], check: _Check) -> grpc.RpcMethodHandler[Any, Any]:
    """Returns a handler of the same kind whose behaviour runs ``check`` first."""

    def unary(behavior: Unary) -> Unary:
        async def checked(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await check(request, context)
            return await behavior(request, context)

        return checked

    def streaming(behavior: Streaming) -> Streaming:
        async def checked(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            await check(request, context)
            async for response in behavior(request, context):
                yield response

        return checked

    return rewrap(handler, unary=unary, streaming=streaming)
