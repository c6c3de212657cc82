"""Opaque keyset page tokens: where the last page ended, bound to the filters it was made for."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime

from mesh.errors import FieldViolation, InvalidArgument
from notify_svc.service_layer.ports import Cursor


def encode(cursor: Cursor, filters: str) -> str:
    payload = {"t": cursor.create_time.isoformat(), "id": cursor.notification_id, "f": _fingerprint(filters)}
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(token: str, filters: str) -> Cursor | None:
    """The cursor in ``token`` (None for an empty token); INVALID_ARGUMENT when it is not ours."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
        cursor = Cursor(datetime.fromisoformat(payload["t"]), str(payload["id"]))
        fingerprint = payload["f"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise _bad("not a page token from this service") from None
    if fingerprint != _fingerprint(filters):
        # A token continues the listing it came from; with other filters it would skip rows.
        raise _bad("the page token was issued for different filters")
    return cursor


def _fingerprint(filters: str) -> str:
    return hashlib.sha256(filters.encode()).hexdigest()[:16]


def _bad(description: str) -> InvalidArgument:
    return InvalidArgument([FieldViolation("page_token", description)])
