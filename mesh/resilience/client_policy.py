"""How every gRPC client of the mesh spreads its calls over a service's replicas.

A target may resolve to many addresses: ``dns:///inventory:50052`` (every A record, as Docker
Compose and a Kubernetes headless Service publish replicas), ``ipv4:127.0.0.1:50052,127.0.0.1:50062``
(a fixed list) or a single ``host:port``. The service config built here makes gRPC itself:

- balance ``round_robin`` over every ready address (the default ``pick_first`` sends
  everything to the first one);
- watch each replica through the standard health service (client-side health checking: a
  replica that reports NOT_SERVING, such as one draining on SIGTERM, gets no new calls);
- retry, on another replica, the calls that are safe to repeat: methods the contracts declare
  ``idempotency_level = NO_SIDE_EFFECTS`` or ``IDEMPOTENT``, on UNAVAILABLE only (the replica
  died or refused the call, so it did nothing that a retry could double), with a retry budget
  so an outage does not multiply the load.

The policy is read from the contracts, not listed by hand, so a new read RPC is retried the
moment its contract says it may be.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from google.protobuf import descriptor, descriptor_pb2

_REPEATABLE = (
    descriptor_pb2.MethodOptions.NO_SIDE_EFFECTS,
    descriptor_pb2.MethodOptions.IDEMPOTENT,
)

# Three attempts in all: one replica lost mid-call plus one more bad pick is covered, while a
# whole service being down still answers within a fraction of a second.
MAX_ATTEMPTS = 3


def repeatable_methods(services: Iterable[descriptor.ServiceDescriptor]) -> list[dict[str, str]]:
    """``{"service", "method"}`` names of the methods whose contract allows a retry."""
    names = []
    for service in services:
        for method in service.methods:
            if method.GetOptions().idempotency_level in _REPEATABLE:
                names.append({"service": service.full_name, "method": method.name})
    return names


def service_config(services: Iterable[descriptor.ServiceDescriptor], *, health_service: str = "") -> dict[str, Any]:
    """The gRPC service config (as a dict) for a channel to the replicas serving ``services``.

    ``health_service`` is the name asked of ``grpc.health.v1.Health``: "" is the whole server,
    which every service of the mesh reports (NOT_SERVING while starting and draining).
    """
    config: dict[str, Any] = {
        "loadBalancingConfig": [{"round_robin": {}}],
        "healthCheckConfig": {"serviceName": health_service},
        # gRPC's retry budget, per channel: each failure costs a token, each success earns a
        # tenth back, and retries stop below half the tokens. A replica lost mid-traffic costs
        # a few failures and is retried; a service failing everything stops being retried after
        # about fifty failed calls, so an outage is not multiplied by the attempts.
        "retryThrottling": {"maxTokens": 100, "tokenRatio": 0.1},
    }
    repeatable = repeatable_methods(services)
    if repeatable:
        config["methodConfig"] = [
            {
                "name": repeatable,
                "retryPolicy": {
                    "maxAttempts": MAX_ATTEMPTS,
                    "initialBackoff": "0.05s",
                    "maxBackoff": "0.5s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    return config


def channel_options(services: Iterable[descriptor.ServiceDescriptor]) -> list[tuple[str, Any]]:
    """The channel arguments that install :func:`service_config` on a channel."""
    return [
        ("grpc.service_config", json.dumps(service_config(services))),
        ("grpc.enable_retries", 1),
        # The config above is the client's decision; a resolver (DNS TXT records) must not replace it.
        ("grpc.service_config_disable_resolution", 1),
    ]
