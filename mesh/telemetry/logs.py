"""Logging: JSON lines by default (for machines), plain text when asked (for people)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from pydantic_settings import BaseSettings, SettingsConfigDict

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class LogSettings(BaseSettings):
    """How every process logs (``OMS_LOG_*``)."""

    model_config = SettingsConfigDict(env_prefix="OMS_LOG_", frozen=True)

    # `json` (one object per line, for machines) or `text` (for people at a terminal).
    format: str = "json"
    # Minimum level: DEBUG, INFO, WARNING, ERROR.
    level: str = "INFO"


ORDER_ID_ATTRIBUTE = "order.id"


def about_order(order_id: str) -> None:
    """Marks the current span as about one order: its ``order.id`` attribute, and the
    ``order_id`` field of every log line emitted while it is the current span."""
    if order_id:
        trace.get_current_span().set_attribute(ORDER_ID_ATTRIBUTE, order_id)


def _order_id(record: logging.LogRecord, span: trace.Span) -> object:
    """``extra={"order_id": …}`` of the call, else the current span's ``order.id``."""
    given = record.__dict__.get("order_id")
    if given:
        return given
    attributes = getattr(span, "attributes", None)  # SDK spans expose them; no-op spans don't
    return attributes.get(ORDER_ID_ATTRIBUTE) if attributes else None


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
        current = trace.get_current_span()
        span = current.get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        order_id = _order_id(record, current)
        if order_id:
            entry["order_id"] = order_id
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, *, fmt: str = "json", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
