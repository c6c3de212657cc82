"""``grpc.health.v1.Health`` complete: Check and Watch from grpcio-health-checking, plus List.

The health proto grpcio-health-checking ships declares ``List`` (a snapshot of every service's
status), but its servicer leaves it to the generated base class, which raises
NotImplementedError (INTERNAL with a logged incident once the mesh's error mapping sees it);
reflection advertises it all the same. List is answered here from the servicer's own status
map, so it agrees with Check at any moment (the whole server ``""`` included).
"""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2
from grpc_health.v1._async import HealthServicer

# The proto lets a server refuse List with RESOURCE_EXHAUSTED when it has too many services;
# a mesh process registers a handful, so this bound only guards against a runaway registration.
MAX_LISTED_SERVICES = 100


class MeshHealthServicer(HealthServicer):  # type: ignore[misc]  # grpc_health has no type stubs
    """The asyncio health servicer with ``List``; ``set`` and graceful shutdown as the base's."""

    async def List(
        self, request: health_pb2.HealthListRequest, context: grpc.aio.ServicerContext
    ) -> health_pb2.HealthListResponse:
        statuses = self._server_status  # the map Check reads and set/enter_graceful_shutdown write
        if len(statuses) > MAX_LISTED_SERVICES:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many services to list")
        return health_pb2.HealthListResponse(
            statuses={name: health_pb2.HealthCheckResponse(status=status) for name, status in statuses.items()}
        )
