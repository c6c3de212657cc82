"""Opaque, keyset page tokens for listing products by product_id.

A token holds the last product_id of the previous page, so the next page starts strictly
after it: products added meanwhile never shift or repeat a page. It also holds a fingerprint
of the filters, so a token cannot be replayed against a different query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class InvalidPageToken(ValueError):
    pass


@dataclass(frozen=True)
class ProductQuery:
    active: bool | None = None
    name_contains: str = ""

    def fingerprint(self) -> str:
        raw = json.dumps([self.active, self.name_contains], separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


def page_size(requested: int) -> int:
    """0 means the default; larger than the maximum is clamped (AIP-158)."""
    if requested <= 0:
        return DEFAULT_PAGE_SIZE
    return min(requested, MAX_PAGE_SIZE)


def encode_token(after_product_id: str, query: ProductQuery) -> str:
    raw = json.dumps({"a": after_product_id, "q": query.fingerprint()}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str, query: ProductQuery) -> str | None:
    """The product_id to start after; None for the first page."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        after, fingerprint = data["a"], data["q"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidPageToken("page_token is not a token this service issued") from exc
    if not isinstance(after, str) or fingerprint != query.fingerprint():
        raise InvalidPageToken("page_token belongs to a different query")
    return after
