"""Page sizes and opaque, tamper-evident page tokens (AIP-158) for keyset listings.

A token carries the keyset position after which the next page starts, signed with HMAC-SHA256
under ``OMS_PAGE_TOKEN_KEY``. The signature also covers the listing's kind and the filters the
token was issued for, so a token is refused (INVALID_ARGUMENT on ``page_token``) when it was
changed in any byte, cut short, signed with another key, or presented to another listing or
with other filters (continuing with other filters would silently skip or repeat rows). Even a
correctly signed position is checked for shape and types before it reaches a query.

Layout: base64url (no padding) of ``tag(16 bytes) || JSON [kind, position]``. Not encrypted:
opacity means clients must not build or parse tokens, not that positions are secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mesh.serving.errors import InvalidArgument
from mesh.settings.common import DeploymentSettings, SettingsError, load
from mesh.values.violations import FieldViolation

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

# Local development only: anyone can read this string, so tokens signed with it prove nothing.
DEV_PAGE_TOKEN_KEY = "oms-local-dev-page-token-key-DO-NOT-USE-IN-PRODUCTION"
MIN_KEY_BYTES = 32
# Far above any token we issue (a timestamp and an id); longer input is refused unread.
MAX_TOKEN_CHARS = 1024
# Bounds of one decoded position element: ids are at most 128 characters (the request bounds).
MAX_TEXT = 256
INT64 = (-(2**63), 2**63 - 1)

_TAG_BYTES = 16  # HMAC-SHA256 truncated to 128 bits (RFC 2104 §5 allows it; still unforgeable)
_DOMAIN = b"oms.page-token.v1\x00"
_REFUSED = "is not a page token of this listing with these filters; start again with an empty page_token"

Filters = Mapping[str, str | int | bool | None]
PositionValue = str | int | datetime


def page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument([FieldViolation("page_size", "must not be negative")])
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


class PageTokenSettings(BaseSettings):
    """``OMS_PAGE_TOKEN_*``: the key every listing of every service signs its page tokens with."""

    model_config = SettingsConfigDict(env_prefix="OMS_PAGE_TOKEN_", frozen=True)

    # HMAC-SHA256 key of page tokens (at least 32 bytes), the same on every replica. Required
    # unless OMS_ENV=development: the default is public, anyone could sign positions with it.
    key: SecretStr = SecretStr(DEV_PAGE_TOKEN_KEY)

    @field_validator("key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().encode()) < MIN_KEY_BYTES:
            raise ValueError(f"must be at least {MIN_KEY_BYTES} bytes")
        return value

    @property
    def uses_dev_key(self) -> bool:
        return self.key.get_secret_value() == DEV_PAGE_TOKEN_KEY


def key_problem(settings: PageTokenSettings, *, development: bool) -> str | None:
    """Why ``settings`` must not be used outside development, or None."""
    if settings.uses_dev_key and not development:
        return (
            "OMS_PAGE_TOKEN_KEY is the public development key, so anyone can sign page tokens: set a key "
            "of your own (32+ random bytes, e.g. `openssl rand -hex 32`), or OMS_ENV=development for local use"
        )
    return None


def load_page_token_settings() -> PageTokenSettings:
    """``PageTokenSettings`` from the environment, refused (SettingsError) where they would be unsafe."""
    settings = load(PageTokenSettings)
    problem = key_problem(settings, development=load(DeploymentSettings).is_development)
    if problem:
        raise SettingsError(f"bad setting: {problem}")
    return settings


class PageTokens:
    """Issues and checks the page tokens of keyset listings; one instance per process."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"a page token key needs at least {MIN_KEY_BYTES} bytes")
        self._key = key

    @classmethod
    def from_settings(cls, settings: PageTokenSettings) -> PageTokens:
        if settings.uses_dev_key:
            log.warning("OMS_PAGE_TOKEN_KEY is the built-in development key: local use only")
        return cls(settings.key.get_secret_value().encode())

    @classmethod
    def development(cls) -> PageTokens:
        """Signed with the public development key: for tests and local tools."""
        return cls(DEV_PAGE_TOKEN_KEY.encode())

    def encode(self, kind: str, position: Sequence[PositionValue], *, filters: Filters | None = None) -> str:
        values = [v.isoformat() if isinstance(v, datetime) else v for v in position]
        body = json.dumps([kind, values], separators=(",", ":"), ensure_ascii=False).encode()
        return _b64(self._tag(kind, filters, body) + body)

    def decode(
        self, kind: str, token: str, shape: Sequence[type], *, filters: Filters | None = None
    ) -> tuple[Any, ...] | None:
        """The position in ``token`` as values of the types in ``shape`` (str, int or datetime).

        None for an empty token (the first page); INVALID_ARGUMENT on ``page_token`` for a token
        this listing did not issue with these filters, or whose position does not fit ``shape``.
        """
        if not token:
            return None
        body = self._verified_body(kind, token, filters)
        try:
            token_kind, values = json.loads(body)
        except (ValueError, TypeError):
            values, token_kind = None, None
        if token_kind != kind or not isinstance(values, list) or len(values) != len(shape):
            raise _malformed()
        return tuple(_typed(value, wanted) for value, wanted in zip(values, shape, strict=True))

    def _verified_body(self, kind: str, token: str, filters: Filters | None) -> bytes:
        if len(token) > MAX_TOKEN_CHARS:
            raise _refused()
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, binascii.Error):
            raise _refused() from None
        # b64decode skips characters outside the alphabet and ignores a last character's unused
        # bits; only the one canonical spelling of the bytes counts, so no edit goes unnoticed.
        if _b64(raw) != token or len(raw) <= _TAG_BYTES:
            raise _refused()
        tag, body = raw[:_TAG_BYTES], raw[_TAG_BYTES:]
        if not hmac.compare_digest(tag, self._tag(kind, filters, body)):
            raise _refused()
        return body

    def _tag(self, kind: str, filters: Filters | None, body: bytes) -> bytes:
        scope = json.dumps([kind, sorted((filters or {}).items())], separators=(",", ":"), ensure_ascii=False)
        message = _DOMAIN + hashlib.sha256(scope.encode()).digest() + body
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_TAG_BYTES]


def _typed(value: object, wanted: type) -> PositionValue:
    if wanted is int and isinstance(value, int) and not isinstance(value, bool) and INT64[0] <= value <= INT64[1]:
        return value
    if wanted is str and isinstance(value, str) and len(value) <= MAX_TEXT:
        return value
    if wanted is datetime and isinstance(value, str) and len(value) <= 64:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _malformed() from None
        if parsed.tzinfo is not None:
            return parsed
    raise _malformed()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _refused() -> InvalidArgument:
    return InvalidArgument([FieldViolation("page_token", _REFUSED)])


def _malformed() -> InvalidArgument:
    # Only reachable with a valid signature: a token of an older release or a leaked key.
    return InvalidArgument([FieldViolation("page_token", "holds a position of the wrong shape; start again")])
