"""Keyset page tokens (mesh.paging's format), bound to the filters they were issued for."""

from __future__ import annotations

import hashlib
from datetime import datetime

from mesh.errors import FieldViolation, InvalidArgument
from mesh.paging import decode_token, encode_token
from notify_svc.service_layer.ports import Cursor


def encode(cursor: Cursor, filters: str) -> str:
    return encode_token(_kind(filters), [cursor.create_time.isoformat(), cursor.notification_id])


def decode(token: str, filters: str) -> Cursor | None:
    """The cursor in ``token`` (None for an empty token); INVALID_ARGUMENT when it is not ours.

    A token issued for other filters is refused too: continuing with other filters would
    silently skip or repeat rows.
    """
    position = decode_token(_kind(filters), token)
    if position is None:
        return None
    try:
        time, notification_id = position
        return Cursor(datetime.fromisoformat(str(time)), str(notification_id))
    except (ValueError, TypeError):
        raise InvalidArgument([FieldViolation("page_token", "malformed page token")]) from None


def _kind(filters: str) -> str:
    return "notifications:" + hashlib.sha256(filters.encode()).hexdigest()[:16]
