"""Prints docs/authorization.md's table of every RPC's rule, from the descriptors themselves.

``scripts/update-readme`` writes it between the table markers of docs/authorization.md and a
unit test keeps the committed file equal to this output, so the table cannot drift from the
``(oms.options.v1.authorization)`` options the services enforce.
"""

from __future__ import annotations

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor

from mesh.auth.authorization import rule_of, services

START, END = "<!-- authorization-table:start -->\n", "<!-- authorization-table:end -->"
_VERBS = ("get", "put", "post", "delete", "patch")


def http_routes(method: descriptor.MethodDescriptor) -> list[str]:
    """``GET /orders/{order_id}``, … for the method's ``google.api.http`` rule and its additional bindings."""
    options = method.GetOptions()
    if not options.HasExtension(annotations_pb2.http):
        return []
    rule: http_pb2.HttpRule = options.Extensions[annotations_pb2.http]
    routes = []
    for each in [rule, *rule.additional_bindings]:
        kind = each.WhichOneof("pattern")
        if kind in _VERBS:
            routes.append(f"{kind.upper()} {getattr(each, kind)}")
        elif kind == "custom":
            routes.append(f"{each.custom.kind.upper()} {each.custom.path}")
    return routes


def markdown() -> str:
    lines = ["| service | RPC | HTTP route | access | owner field | note |", "|---|---|---|---|---|---|"]
    for service in services():
        for method in service.methods:
            rule = rule_of(method)
            routes = "<br>".join(f"`{route}`" for route in http_routes(method)) or "(gRPC only)"
            owner = f"`{rule.owner_field}`" if rule.owner_field else ""
            note = rule.note.replace("|", "/")
            lines.append(
                f"| `{service.full_name}` | `{method.name}` | {routes} | {rule.access.label} | {owner} | {note} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")  # noqa: T201 - this module's job is to print
