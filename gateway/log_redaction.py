"""Bearer tokens never reach the gateway's logs.

Browsers' EventSource cannot send headers, so SSE clients pass their token as the
``access_token`` query parameter, and the access log (uvicorn's ``uvicorn.access`` logger)
prints each request's path with its query string. Anyone who can read the logs could replay
such a token. ``RedactingFilter`` sits on the log handlers and rewrites every record before it
is formatted: the ``access_token`` value and any ``Bearer <token>`` become ``[REDACTED]``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

REDACTED = "[REDACTED]"
# The value of access_token=... (the gateway honours only this literal parameter name).
_QUERY_TOKEN = re.compile(r"(?i)(\baccess_token=)[^&#\s\"']*")
_BEARER = re.compile(r"(?i)(\bbearer\s+)[^\s\"',;]+")
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def redact(text: str) -> str:
    if "access_token" not in text.lower() and "bearer" not in text.lower():
        return text  # the common case costs two scans, no regex
    return _BEARER.sub(rf"\g<1>{REDACTED}", _QUERY_TOKEN.sub(rf"\g<1>{REDACTED}", text))


def _scrub(value: object) -> object:
    return redact(value) if isinstance(value, str) else value


class RedactingFilter(logging.Filter):
    """Rewrites the message, its arguments and ``extra`` string fields of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: _scrub(value) for key, value in record.args.items()}
        elif record.args:
            record.args = tuple(_scrub(arg) for arg in record.args)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                record.__dict__[key] = redact(value)
        return True


def redact_logs(logger: logging.Logger | None = None) -> None:
    """Installs ``RedactingFilter`` on every handler of ``logger`` (the root logger by default)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
