"""Logging: JSON lines by default (for machines), plain text when asked (for people).

Both formats carry the same context on every line written while something is being handled:
``trace_id`` and ``span_id`` of the current span (the HTTP request, the RPC, the event being
processed) and ``order_id`` when the work is about one order, so a line leads to its trace in
the viewer and to the order, and an operator can grep either id in text logs too.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from pydantic_settings import BaseSettings, SettingsConfigDict

# uvicorn adds ``color_message``: the message again, with terminal colour codes.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "color_message"}
_CONTEXT_FIELDS = ("trace_id", "span_id", "order_id")


class LogSettings(BaseSettings):
    """How every process logs (``OMS_LOG_*``)."""

    model_config = SettingsConfigDict(env_prefix="OMS_LOG_", frozen=True)

    # `json` (one object per line, for machines) or `text` (for people at a terminal).
    format: str = "json"
    # Minimum level: DEBUG, INFO, WARNING, ERROR.
    level: str = "INFO"


ORDER_ID_ATTRIBUTE = "order.id"

# The order the current task works on. A context variable rather than only the span attribute:
# log lines written inside child spans (a database transaction, an SMTP send) carry it too.
_current_order: ContextVar[str] = ContextVar("oms_order_id", default="")


def about_order(order_id: str) -> None:
    """Marks the current span as about one order: its ``order.id`` attribute, and the
    ``order_id`` field of every log line emitted from here on in this task (an RPC's task ends
    with the call; a loop that handles several orders uses ``order_scope`` instead)."""
    if order_id:
        trace.get_current_span().set_attribute(ORDER_ID_ATTRIBUTE, order_id)
        _current_order.set(order_id)


@contextmanager
def order_scope(order_id: str) -> Iterator[None]:
    """``order_id`` on every log line written inside the block, and nothing after it."""
    if not order_id:
        yield
        return
    token = _current_order.set(order_id)
    try:
        yield
    finally:
        _current_order.reset(token)


def current_order_id() -> str:
    return _current_order.get()


def log_context() -> dict[str, str]:
    """``trace_id``, ``span_id`` and ``order_id`` of the current context (those that exist).

    The formatters add them to every line; a caller that wants them on the record itself (for
    any handler, not only ours) passes them as ``extra``.
    """
    fields: dict[str, str] = {}
    current = trace.get_current_span()
    span = current.get_span_context()
    if span.is_valid:
        fields["trace_id"] = format(span.trace_id, "032x")
        fields["span_id"] = format(span.span_id, "016x")
    order_id = _current_order.get() or _span_order_id(current)
    if order_id:
        fields["order_id"] = order_id
    return fields


def _span_order_id(span: trace.Span) -> str:
    attributes = getattr(span, "attributes", None)  # SDK spans expose them; no-op spans don't
    value = attributes.get(ORDER_ID_ATTRIBUTE) if attributes else None
    return value if isinstance(value, str) else ""


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The context of the line, then the call's own ``extra`` (an explicit ``order_id`` wins)."""
    fields: dict[str, Any] = dict(log_context())
    for key, value in record.__dict__.items():
        if key not in _STANDARD and (value or key not in _CONTEXT_FIELDS):
            fields[key] = value
    return fields


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_fields(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """``time service LEVEL logger: message key=value …``, the ids first, then the traceback.

    ``trace_id=… span_id=… order_id=…`` come first after the message, so they line up and an
    operator can copy one into the trace viewer or grep a run's logs for an order.
    """

    def __init__(self, service: str) -> None:
        super().__init__("%(asctime)s " + service + " %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        fields = _fields(record)
        ordered = [k for k in _CONTEXT_FIELDS if k in fields] + [k for k in fields if k not in _CONTEXT_FIELDS]
        if ordered:
            line += " " + " ".join(f"{key}={_text_value(fields[key])}" for key in ordered)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


def _text_value(value: object) -> str:
    text = str(value)
    return json.dumps(text) if not text or any(c.isspace() or c in '"=' for c in text) else text


def configure_logging(service: str, *, fmt: str = "json", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if fmt == "json" else TextFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
