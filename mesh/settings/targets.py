"""The one rule for a gRPC target in the settings: what gRPC's resolvers accept, checked early.

Accepted: ``host:port``; ``dns:///host:port`` (or ``dns://server/host:port``), which balances
over every address the name resolves to (a Compose service, a Kubernetes headless Service);
``ipv4:a:port,b:port`` and ``ipv6:[a]:port,…``, a fixed list of replicas; ``unix:path``.
A typo ("127.0.0.1" without a port, "dns:/x") is refused at start with the setting's name,
not found later as calls that hang until their deadline.
"""

from __future__ import annotations

import re

_PORT = r"(?:[0-9]{1,5})"
_HOST = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)"
_HOST_PORT = re.compile(rf"{_HOST}:{_PORT}")
_DNS = re.compile(rf"dns:(?://[A-Za-z0-9_.:\[\]-]*/)?{_HOST}(?::{_PORT})?")
_IPV4_LIST = re.compile(rf"ipv4:[0-9.]+:{_PORT}(?:,[0-9.]+:{_PORT})*")
_IPV6_LIST = re.compile(rf"ipv6:\[[0-9A-Fa-f:.]+\]:{_PORT}(?:,\[[0-9A-Fa-f:.]+\]:{_PORT})*")
_UNIX = re.compile(r"unix:.+")


def check_grpc_target(value: str) -> str:
    """``value`` unchanged when gRPC can resolve it; ValueError saying what is accepted otherwise."""
    if any(pattern.fullmatch(value) for pattern in (_HOST_PORT, _DNS, _IPV4_LIST, _IPV6_LIST, _UNIX)):
        return value
    raise ValueError("must be host:port, dns:///host:port, ipv4:a:port,b:port, ipv6:[a]:port,… or unix:path")
