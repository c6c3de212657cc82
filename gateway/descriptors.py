"""Finds the annotated RPCs at run time: nothing here names a service, a path or a message.

Every ``*_pb2`` module under the ``oms`` package is imported (registering its file in the
default descriptor pool), and every method of every service there that carries a
``google.api.http`` option becomes one or more ``Binding``s (``additional_bindings`` included).
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from types import ModuleType

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor, message, message_factory

from gateway.routing import PathTemplate, parse_template
from mesh.auth.authorization import Rule, rule_of

log = logging.getLogger(__name__)

_HTTP_METHODS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class Method:
    """One RPC and where it is served."""

    descriptor: descriptor.MethodDescriptor
    upstream: str

    @property
    def grpc_path(self) -> str:
        return f"/{self.descriptor.containing_service.full_name}/{self.descriptor.name}"

    @property
    def server_streaming(self) -> bool:
        return bool(self.descriptor.server_streaming)

    @cached_property
    def rule(self) -> Rule:
        """Who may call it: the same declared rule the service enforces."""
        return rule_of(self.descriptor)

    @property
    def input_class(self) -> type[message.Message]:
        return message_factory.GetMessageClass(self.descriptor.input_type)

    @property
    def output_class(self) -> type[message.Message]:
        return message_factory.GetMessageClass(self.descriptor.output_type)


@dataclass(frozen=True)
class Binding:
    """One HTTP route of a method: ``index`` 0 is the main rule, then additional bindings."""

    method: Method
    http_method: str
    template: PathTemplate
    body: str
    response_body: str
    index: int

    @property
    def operation_id(self) -> str:
        # grpc-gateway's convention: Service_Method, with a counter for additional bindings.
        name = f"{self.method.descriptor.containing_service.name}_{self.method.descriptor.name}"
        return name if self.index == 0 else f"{name}{self.index + 1}"


def import_generated(package: str = "oms") -> list[ModuleType]:
    """Imports every generated ``_pb2`` module of ``package`` (stubs are not needed)."""
    root = importlib.import_module(package)
    modules = []
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if info.name.endswith("_pb2"):
            modules.append(importlib.import_module(info.name))
    return modules


def upstream_of(service: descriptor.ServiceDescriptor) -> str:
    """``oms.order.v1.OrderService`` → ``order``: services are routed by proto package."""
    parts = service.file.package.split(".")
    return parts[1] if len(parts) >= 2 else parts[0]


def services_by_upstream(package: str = "oms") -> dict[str, list[descriptor.ServiceDescriptor]]:
    """Every generated service, grouped by the upstream that serves it."""
    grouped: dict[str, list[descriptor.ServiceDescriptor]] = {}
    for module in import_generated(package):
        for service in module.DESCRIPTOR.services_by_name.values():
            grouped.setdefault(upstream_of(service), []).append(service)
    return grouped


def discover(upstreams: Iterable[str], package: str = "oms") -> list[Binding]:
    known = set(upstreams)
    bindings: list[Binding] = []
    for module in import_generated(package):
        for service in module.DESCRIPTOR.services_by_name.values():
            upstream = upstream_of(service)
            if upstream not in known:
                log.warning("no upstream %r configured for %s; its routes are not served", upstream, service.full_name)
                continue
            for method_descriptor in service.methods:
                bindings.extend(bindings_of(Method(method_descriptor, upstream)))
    return bindings


def bindings_of(method: Method) -> Iterator[Binding]:
    options = method.descriptor.GetOptions()
    if not options.HasExtension(annotations_pb2.http):
        log.info("%s has no google.api.http option; not served over HTTP", method.grpc_path)
        return
    if method.descriptor.client_streaming:
        log.warning("%s streams requests; HTTP transcoding does not serve it", method.grpc_path)
        return
    rule: http_pb2.HttpRule = options.Extensions[annotations_pb2.http]
    for index, each in enumerate([rule, *rule.additional_bindings]):
        kind = each.WhichOneof("pattern")
        if kind in _HTTP_METHODS:
            verb, path = kind.upper(), str(getattr(each, kind))
        elif kind == "custom":
            verb, path = each.custom.kind.upper(), each.custom.path
        else:
            continue
        yield Binding(method, verb, parse_template(path), each.body, each.response_body, index)
