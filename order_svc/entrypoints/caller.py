"""The caller of the current RPC, as the use cases see it."""

from __future__ import annotations

import grpc

from mesh.auth.principal import SYNTHETIC_ADMIN, current_principal
from mesh.serving.wire import metadata_value
from order_svc.service_layer.ports import Caller

# Forwarded to inventory, which checks the same token and logs the same request id.
FORWARDED = ("authorization", "x-request-id")


def caller_of(context: grpc.aio.ServicerContext) -> Caller:
    principal = current_principal() or SYNTHETIC_ADMIN
    received = context.invocation_metadata()
    metadata = tuple((key, value) for key in FORWARDED if (value := metadata_value(received, key)) is not None)
    return Caller(principal_id=principal.id, is_admin=principal.is_admin, metadata=metadata)
