"""``google.api.http`` path templates, compiled to regular expressions, and the router.

Grammar (google/api/http.proto)::

    Template = "/" Segments [ Verb ] ;  Segments = Segment { "/" Segment } ;
    Segment  = "*" | "**" | LITERAL | Variable ;  Variable = "{" FieldPath [ "=" Segments ] "}" ;
    Verb     = ":" LITERAL ;
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:
    from gateway.descriptors import Binding


@dataclass(frozen=True)
class Variable:
    field_path: str
    group: str
    multi_segment: bool


@dataclass(frozen=True)
class PathTemplate:
    source: str
    pattern: re.Pattern[str]
    variables: tuple[Variable, ...]
    verb: str
    literals: int

    @property
    def openapi_path(self) -> str:
        """The template with ``{field=pattern}`` reduced to ``{field}``."""
        return re.sub(r"\{([^}=]+)(=[^}]*)?\}", r"{\1}", self.source)


def _split_outside_braces(text: str, sep: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char == "{"
        depth -= char == "}"
        if char == sep and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _segment_regex(segment: str) -> str:
    if segment == "*":
        return "[^/]+"
    if segment == "**":
        return ".*"
    return re.escape(segment)


def parse_template(source: str) -> PathTemplate:
    if not source.startswith("/"):
        raise ValueError(f"path template {source!r} must start with '/'")
    last = _split_outside_braces(source, "/")[-1]
    verb = ""
    pieces = _split_outside_braces(last, ":")
    if len(pieces) > 1:
        verb = pieces[-1]
        source_path = source[: len(source) - len(verb) - 1]
    else:
        source_path = source
    regex, literals = "", 0
    variables: list[Variable] = []
    for segment in _split_outside_braces(source_path[1:], "/"):
        if segment.startswith("{") and segment.endswith("}"):
            field_path, _, sub = segment[1:-1].partition("=")
            subsegments = sub.split("/") if sub else ["*"]
            group = f"v{len(variables)}"
            inner = "/".join(_segment_regex(s) for s in subsegments)
            regex += f"/(?P<{group}>{inner})"
            variables.append(Variable(field_path.strip(), group, sub not in ("", "*")))
            literals += sum(1 for s in subsegments if s not in ("*", "**"))
        else:
            regex += "/" + _segment_regex(segment)
            literals += segment not in ("*", "**")
    return PathTemplate(source, re.compile(f"^{regex}$"), tuple(variables), verb, literals)


def _decode(value: str, multi_segment: bool) -> str:
    if not multi_segment:
        return unquote(value)
    # Like grpc-gateway: an escaped slash inside a multi-segment variable stays escaped.
    return "%2F".join(unquote(piece) for piece in re.split("%2[fF]", value))


@dataclass(frozen=True)
class RouteMatch:
    binding: Binding
    path_params: dict[str, str]


class MethodNotAllowed(Exception):
    def __init__(self, allowed: list[str]) -> None:
        super().__init__(", ".join(allowed))
        self.allowed = allowed


class Router:
    """Finds the binding for a method and a raw (still percent-encoded) path."""

    def __init__(self, bindings: Iterable[Binding]) -> None:
        # Most literal segments first, so /api/inventory/check beats /api/inventory/{id}.
        self.bindings = sorted(bindings, key=lambda b: -b.template.literals)

    def match(self, http_method: str, raw_path: str) -> RouteMatch | None:
        """Raises MethodNotAllowed when the path exists only under other methods.

        HEAD matches the GET bindings (RFC 9110 9.3.2: the same answer without its content).
        """
        if http_method == "HEAD":
            http_method = "GET"
        allowed: list[str] = []
        for path, verb in self._candidates(raw_path):
            for binding in self.bindings:
                if binding.template.verb != verb:
                    continue
                found = binding.template.pattern.match(path)
                if found is None:
                    continue
                if binding.http_method != http_method:
                    allowed.append(binding.http_method)
                    continue
                params = {
                    v.field_path: _decode(found.group(v.group), v.multi_segment) for v in binding.template.variables
                }
                return RouteMatch(binding, params)
        if allowed:
            raise MethodNotAllowed(sorted(set(allowed) | ({"HEAD"} if "GET" in allowed else set())))
        return None

    @staticmethod
    def _candidates(raw_path: str) -> list[tuple[str, str]]:
        """A trailing ``:verb`` is tried as a custom verb first, then as part of the last segment."""
        head, _, last = raw_path.rpartition("/")
        name, colon, verb = last.rpartition(":")
        if colon and name:
            return [(f"{head}/{name}", verb), (raw_path, "")]
        return [(raw_path, "")]
