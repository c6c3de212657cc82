"""How a service proves it is one of the mesh's own when it calls another (ACCESS_INTERNAL).

It presents a token of its own instead of forwarding its caller's: either one configured in
``OMS_AUTH_SERVICE_TOKEN`` (issued by the identity provider, for deployments that verify
RS256 tokens against a JWKS), or one it mints with the shared ``OMS_AUTH_JWT_SECRET``: subject
the service's name, role ``service``, an hour's lifetime, re-minted well before it expires.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import grpc

from mesh.auth.authorization import ROLE_SERVICE
from mesh.auth.minting import mint_token
from mesh.auth.settings import AuthSettings

log = logging.getLogger(__name__)

Metadata = Sequence[tuple[str, str | bytes]]


class ServiceToken:
    """The ``authorization`` value this process sends; None when it has nothing to sign with."""

    def __init__(
        self, settings: AuthSettings, service: str, *, ttl_s: int = 3600, clock: Callable[[], float] = time.time
    ) -> None:
        self._settings = settings
        self._service = service
        self._ttl = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._header: str | None = None
        self._renew_at = 0.0
        self._static = settings.service_token.get_secret_value() if settings.service_token else ""
        if not self._static and not (settings.jwt_secret and settings.jwt_secret.get_secret_value()):
            log.warning(
                "no OMS_AUTH_SERVICE_TOKEN and no OMS_AUTH_JWT_SECRET: calls to internal RPCs forward the caller's "
                "token and succeed for admins only",
                extra={"service": service},
            )

    def header(self) -> str | None:
        if self._static:
            return f"Bearer {self._static}"
        if not (self._settings.jwt_secret and self._settings.jwt_secret.get_secret_value()):
            return None
        now = self._clock()
        with self._lock:
            if self._header is None or now >= self._renew_at:
                token = mint_token(self._service, [ROLE_SERVICE], self._settings, ttl_s=self._ttl, now=now)
                self._header = f"Bearer {token}"
                self._renew_at = now + self._ttl / 2  # renewed halfway, so clock skew never bites
            return self._header


def with_service_token(metadata: Metadata | None, token: ServiceToken) -> Metadata | None:
    """``metadata`` with its ``authorization`` replaced by the service's own (kept when there is none)."""
    header = token.header()
    if header is None:
        return metadata
    kept = [(key, value) for key, value in metadata or () if key != "authorization"]
    return (*kept, ("authorization", header))


class ServiceIdentityChannel:
    """A channel whose every call carries the service's own token (``with_service_token``).

    Stubs built on it need no change: the token is put in when each call starts, so a
    caller's forwarded metadata (request id, trace context) still travels with it.
    """

    def __init__(self, channel: grpc.aio.Channel, token: ServiceToken) -> None:
        self._channel = channel
        self._token = token

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _WithToken(self._channel.unary_unary(method, *args, **kwargs), self._token)

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _WithToken(self._channel.unary_stream(method, *args, **kwargs), self._token)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._channel, name)


class _WithToken:
    def __init__(self, inner: Any, token: ServiceToken) -> None:
        self._inner = inner
        self._token = token

    def __call__(self, request: Any, *, metadata: Metadata | None = None, **kwargs: Any) -> Any:
        return self._inner(request, metadata=with_service_token(metadata, self._token), **kwargs)


def service_channel(channel: grpc.aio.Channel, settings: AuthSettings, service: str) -> grpc.aio.Channel:
    """``channel`` presenting ``service``'s own token on every call (typed as a channel for stubs)."""
    return ServiceIdentityChannel(channel, ServiceToken(settings, service))  # type: ignore[return-value]
