"""Page sizes and opaque page tokens (AIP-158): keyset positions, base64url JSON."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from mesh.errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument([FieldViolation("page_size", "must not be negative")])
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode_token(kind: str, position: list[Any]) -> str:
    raw = json.dumps({"k": kind, "p": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(kind: str, token: str) -> list[Any] | None:
    """The position in ``token``; None for an empty token; InvalidArgument when it is not ours."""
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if data["k"] == kind and isinstance(data["p"], list):
            return list(data["p"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        pass
    raise InvalidArgument([FieldViolation("page_token", "not a token from a previous page of this listing")])
