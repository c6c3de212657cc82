"""Who may call each RPC: the ``(oms.options.v1.authorization)`` rule declared on it in proto/.

The rule lives once, on the contract. The services' ``AuthServerInterceptor`` and the gateway
read it from the descriptors at start (``rules()``), ``docs/authorization.md`` is generated from
it, and the tests walk it. A method without a rule is refused: forgetting to declare one fails
closed, and a unit test names the method.
"""

from __future__ import annotations

import enum
import importlib
import pkgutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from google.protobuf import descriptor, descriptor_pool
from google.protobuf.message import Message

from oms.options.v1 import options_pb2

if TYPE_CHECKING:
    from mesh.auth.principal import Principal

# The role of the mesh's own services calling each other (ACCESS_INTERNAL).
ROLE_SERVICE = "service"

# Always callable without a token: load balancers and tools probe them before anything else.
PUBLIC_METHOD_PREFIXES: tuple[str, ...] = ("/grpc.health.v1.", "/grpc.reflection.")


class Access(enum.Enum):
    UNSPECIFIED = options_pb2.ACCESS_UNSPECIFIED
    PUBLIC = options_pb2.ACCESS_PUBLIC
    CUSTOMER = options_pb2.ACCESS_CUSTOMER
    ADMIN = options_pb2.ACCESS_ADMIN
    INTERNAL = options_pb2.ACCESS_INTERNAL

    @property
    def label(self) -> str:
        return self.name.lower()


class Denied(Exception):
    """The principal may not make this call; the message is safe to show to the caller."""


@dataclass(frozen=True)
class Rule:
    """The declared rule of one RPC (``method`` is its gRPC path, ``/pkg.Service/Method``)."""

    method: str
    access: Access
    owner_field: str = ""
    note: str = ""

    @property
    def needs_token(self) -> bool:
        return self.access is not Access.PUBLIC

    def check(self, principal: Principal, request: Message | None = None) -> None:
        """Raises ``Denied`` unless ``principal`` may make this call with ``request``.

        For customers, ``owner_field`` (when the request fills it) must name themselves; a
        resource looked up by id (an order) is checked by the service on the stored row.
        """
        if self.access is Access.PUBLIC:
            return
        if self.access is Access.UNSPECIFIED:
            raise Denied(f"{self.method} declares no authorization rule")
        if not principal.id:
            raise Denied(f"{self.method} requires a signed-in caller")
        if principal.is_admin:
            return
        if self.access is Access.ADMIN:
            raise Denied(f"{self.method} requires the 'admin' role")
        if self.access is Access.INTERNAL:
            if ROLE_SERVICE not in principal.roles:
                raise Denied(f"{self.method} is for the mesh's services (role {ROLE_SERVICE!r}) and admins")
            return
        if self.owner_field and request is not None:
            owner = field_value(request, self.owner_field)
            if owner and owner != principal.id:
                raise Denied(f"a customer acts only on their own resources: {self.owner_field} must be their own id")


def field_value(request: Message, path: str) -> str:
    """The string at a dotted field path (``customer.customer_id``); "" when a message on the way is unset."""
    value: object = request
    for name in path.split("."):
        assert isinstance(value, Message)
        if value.DESCRIPTOR.fields_by_name[name].message_type is not None and not value.HasField(name):
            return ""
        value = getattr(value, name)
    return value if isinstance(value, str) else ""


def method_path(method: descriptor.MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def rule_of(method: descriptor.MethodDescriptor) -> Rule:
    """The method's declared rule (``Access.UNSPECIFIED`` when it declares none)."""
    options = method.GetOptions()
    if not options.HasExtension(options_pb2.authorization):
        return Rule(method_path(method), Access.UNSPECIFIED)
    declared = options.Extensions[options_pb2.authorization]
    return Rule(method_path(method), Access(declared.access), declared.owner_field, declared.note)


def services(package: str = "oms") -> Iterator[descriptor.ServiceDescriptor]:
    """Every service of every generated ``_pb2`` module of ``package``, in module order."""
    root = importlib.import_module(package)
    for info in sorted(pkgutil.walk_packages(root.__path__, prefix=f"{package}."), key=lambda i: i.name):
        if info.name.endswith("_pb2"):
            yield from importlib.import_module(info.name).DESCRIPTOR.services_by_name.values()


def rules_of(service_descriptors: Iterable[descriptor.ServiceDescriptor]) -> dict[str, Rule]:
    return {method_path(m): rule_of(m) for service in service_descriptors for m in service.methods}


@cache
def rules(package: str = "oms") -> Mapping[str, Rule]:
    """Every RPC's rule by gRPC path, read once per process."""
    return rules_of(services(package))


def validate_owner_fields(all_rules: Iterable[Rule]) -> list[str]:
    """Problems with declared ``owner_field``s (a path that is not a string field of the request)."""
    problems = []
    for rule in all_rules:
        if not rule.owner_field:
            continue
        if rule.access is not Access.CUSTOMER:
            problems.append(f"{rule.method}: owner_field only applies to ACCESS_CUSTOMER")
        elif not _is_string_path(_input_type(rule.method), rule.owner_field):
            problems.append(f"{rule.method}: owner_field {rule.owner_field!r} is not a string field of the request")
    return problems


def _is_string_path(message: descriptor.Descriptor | None, path: str) -> bool:
    *parents, leaf = path.split(".")
    for name in parents:
        parent = message.fields_by_name.get(name) if message is not None else None
        message = parent.message_type if parent is not None and not parent.is_repeated else None
    field = message.fields_by_name.get(leaf) if message is not None else None
    return field is not None and field.type == descriptor.FieldDescriptor.TYPE_STRING and not field.is_repeated


def _input_type(method: str) -> descriptor.Descriptor | None:
    service, _, name = method.lstrip("/").rpartition("/")
    return descriptor_pool.Default().FindMethodByName(f"{service}.{name}").input_type  # type: ignore[no-any-return]
