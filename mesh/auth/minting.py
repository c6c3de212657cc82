"""Signing tokens the verifier accepts: for development, tests and the `oms token` command."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import jwt

from mesh.auth.settings import AuthSettings


def mint_token(
    subject: str,
    roles: Iterable[str],
    settings: AuthSettings | None = None,
    *,
    ttl_s: int = 3600,
    algorithm: str = "HS256",
    key: Any = None,
    kid: str | None = None,
    now: float | None = None,
    extra_claims: Mapping[str, Any] | None = None,
) -> str:
    """Signs a token the verifier accepts (HS256 with the configured secret by default)."""
    settings = settings or AuthSettings()
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "roles": list(roles),
        "aud": settings.audience,
        "iss": settings.issuer,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_s,
    }
    claims.update(extra_claims or {})
    if key is None:
        if settings.jwt_secret is None:
            raise ValueError("no OMS_AUTH_JWT_SECRET to sign with; pass key=")
        key = settings.jwt_secret.get_secret_value()
    headers = {"kid": kid} if kid else None
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)
