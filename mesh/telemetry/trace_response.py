"""The trace id handed back to the caller: a W3C ``traceresponse`` on every response.

Format of the W3C Trace Context Level 2 draft, ``00-<trace-id>-<span-id>-<flags>``: the
trace the request became part of and the id of the span the server made for it, so a client
can quote it to an operator, who pastes the trace id into the trace viewer. The gateway sends
it as an HTTP response header; every gRPC service as *trailing* metadata under the same key
(initial metadata would cost unary calls a separate write; trailers also reach a client whose
call failed, which is when an id is wanted most).
"""

from __future__ import annotations

import re

from opentelemetry.trace import SpanContext

TRACE_RESPONSE = "traceresponse"
_FORMAT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def trace_response(span: SpanContext) -> str | None:
    """The header value for ``span``, or None when there is no valid trace (tracing off)."""
    if not span.is_valid:
        return None
    return f"00-{span.trace_id:032x}-{span.span_id:016x}-{int(span.trace_flags):02x}"


def parse_trace_response(value: str) -> tuple[str, str, bool]:
    """(trace id, span id, sampled) of a ``traceresponse`` value; ValueError if it is not one."""
    found = _FORMAT.match(value.strip())
    if found is None:
        raise ValueError(f"not a traceresponse value: {value[:80]!r}")
    trace_id, span_id, flags = found.groups()
    return trace_id, span_id, bool(int(flags, 16) & 1)
