"""The caller of the current RPC, as the use cases see it."""

from __future__ import annotations

import grpc

from mesh.auth.principal import SYNTHETIC_ADMIN, current_principal
from order_svc.service_layer.ports import Caller

FORWARDED = ("authorization", "x-request-id")


def caller_of(context: grpc.aio.ServicerContext) -> Caller:
    principal = current_principal() or SYNTHETIC_ADMIN
    metadata = tuple(
        (key, value)
        for key, value in (context.invocation_metadata() or ())
        if key in FORWARDED and isinstance(value, str)
    )
    return Caller(principal_id=principal.id, is_admin=principal.is_admin, metadata=metadata)


def metadata_value(context: grpc.aio.ServicerContext, key: str) -> str:
    for name, value in context.invocation_metadata() or ():
        if name == key and isinstance(value, str):
            return value
    return ""
