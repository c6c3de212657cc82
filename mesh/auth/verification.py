"""Verifying bearer tokens (HS* with a secret, RS*/PS*/ES* with a JWKS) into a Principal."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt

from mesh.auth.jwks import RemoteKeySet
from mesh.auth.principal import SYNTHETIC_ADMIN, Principal
from mesh.auth.settings import HMAC_ALGORITHMS, AuthSettings
from mesh.auth.token_cache import VerifiedTokens

log = logging.getLogger(__name__)


class AuthError(Exception):
    """Authentication failed; the message is safe to show to the caller."""


class TokenVerifier:
    """Verifies HS*/RS* bearer tokens against ``AuthSettings``; raises ``AuthError``."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self.algorithms = settings.effective_algorithms()
        if settings.enabled and not self.algorithms:
            raise ValueError(
                "OMS_AUTH_ALGORITHMS: no listed algorithm is usable with the configured keys "
                "(HS* need OMS_AUTH_JWT_SECRET, RS* need OMS_AUTH_JWKS)"
            )
        self._remote: RemoteKeySet | None = None
        self._jwks_set: jwt.PyJWKSet | None = None
        if settings.jwks:
            if settings.jwks.startswith(("http://", "https://")):
                self._remote = RemoteKeySet(
                    settings.jwks,
                    refresh_interval_s=settings.jwks_refresh_interval_s,
                    timeout_s=settings.jwks_timeout_s,
                    max_age_s=settings.jwks_max_age_s,
                )
            else:
                self._jwks_set = jwt.PyJWKSet.from_json(Path(settings.jwks).read_text())
        self._verified = VerifiedTokens(leeway_s=settings.leeway_s)
        if settings.enabled and settings.uses_dev_secret and "HS256" in self.algorithms:
            log.warning("OMS_AUTH_JWT_SECRET is the built-in development secret: local use only")

    @property
    def remote_keys(self) -> RemoteKeySet | None:
        """The JWKS fetched over the network, if one is configured (``verify_off_loop`` fetches it)."""
        return self._remote

    def verify_authorization(self, header: str | None) -> Principal:
        """Checks an ``Authorization`` value (``Bearer <jwt>``)."""
        if not self.settings.enabled:
            return SYNTHETIC_ADMIN
        return self.verify(_bearer_token(header))

    def already_verified(self, header: str | None) -> Principal | None:
        """The principal of a token verified recently and still valid; never fetches keys."""
        if not self.settings.enabled:
            return SYNTHETIC_ADMIN
        try:
            return self._verified.get(_bearer_token(header))
        except AuthError:
            return None

    def verify(self, token: str) -> Principal:
        if not self.settings.enabled:
            return SYNTHETIC_ADMIN
        cached = self._verified.get(token)
        if cached is not None:
            return cached
        principal, claims = self._verify_uncached(token)
        self._verified.put(token, principal, claims)
        return principal

    def _verify_uncached(self, token: str) -> tuple[Principal, Mapping[str, Any]]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        algorithm = str(header.get("alg", ""))
        if algorithm not in self.algorithms:
            raise AuthError(f"token algorithm {algorithm[:32]!r} is not allowed")  # the caller's text: cut short
        key = self._key_for(algorithm, header, token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_s,
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("token not valid yet") from None
        except jwt.InvalidAudienceError:
            raise AuthError(f"token audience is not {self.settings.audience!r}") from None
        except jwt.InvalidIssuerError:
            raise AuthError(f"token issuer is not {self.settings.issuer!r}") from None
        except jwt.InvalidSignatureError:
            raise AuthError("token signature is invalid") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        return _principal_from(claims, self.settings.leeway_s), claims

    def _key_for(self, algorithm: str, header: Mapping[str, Any], token: str) -> Any:
        if algorithm in HMAC_ALGORITHMS:
            assert self.settings.jwt_secret is not None  # guaranteed by effective_algorithms
            return self.settings.jwt_secret.get_secret_value()
        kid = header.get("kid")
        kid = kid if isinstance(kid, str) else None
        if self._remote is not None:
            # verify_off_loop has refreshed the set on its own thread when due, so this fetches
            # only for synchronous callers; a refresh that failed leaves the previous keys.
            self._remote.refresh_if_due(kid)
            key = self._remote.key_for(kid)
            if key is None:
                raise AuthError("no signing key for the token's kid")
            return key
        assert self._jwks_set is not None
        keys = [k for k in self._jwks_set.keys if kid is None or k.key_id == kid]
        if len(keys) != 1:
            raise AuthError("no unique signing key for the token's kid")
        return keys[0].key


def _bearer_token(header: str | None) -> str:
    if not header:
        raise AuthError("missing bearer token: send 'Authorization: Bearer <jwt>'")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("authorization must use the Bearer scheme")
    return token.strip()


def _principal_from(claims: Mapping[str, Any], leeway_s: float = 0.0) -> Principal:
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise AuthError("token 'roles' claim must be a list of strings")
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject:
        raise AuthError("token 'sub' claim must be a non-empty string")
    return Principal(id=subject, roles=frozenset(roles), expires_at=float(claims["exp"]) + leeway_s)


async def verify_off_loop(verifier: TokenVerifier, header: str | None) -> Principal:
    """Verifies without blocking the event loop: a JWKS fetch runs on the key set's own thread."""
    remote = verifier.remote_keys
    if remote is not None:
        known = verifier.already_verified(header)
        if known is not None:
            return known
        await remote.refresh_off_loop(_unverified_kid(header))
    return verifier.verify_authorization(header)


def _unverified_kid(header: str | None) -> str | None:
    try:
        kid = jwt.get_unverified_header(_bearer_token(header)).get("kid")
    except (AuthError, jwt.PyJWTError):
        return None  # verify_authorization gives the reason
    return kid if isinstance(kid, str) else None
