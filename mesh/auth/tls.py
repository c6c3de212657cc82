"""Mutual TLS between the mesh's own processes (gateway → services, order → inventory).

Off unless ``OMS_TLS_CA_FILE``, ``OMS_TLS_CERT_FILE`` and ``OMS_TLS_KEY_FILE`` are set (all
three or none): then every gRPC port asks for a client certificate signed by that CA and every
gRPC client presents its own certificate and verifies the server's name against the address it
dials. A certificate signed by the CA is not enough to call a service: its identity (common
name or a subject alternative name) must be in that service's ``OMS_<SVC>_TLS_ALLOWED_CLIENTS``,
checked by ``PeerIdentityInterceptor``. Health checks are the exception: any certificate of the
CA may ask whether a service is serving, so probes need no identity of their own.
Development runs plaintext (nothing set).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import grpc
from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mesh.serving.grpc_wrap import Handler, Streaming, Unary, WrappingInterceptor, rewrap
from mesh.telemetry.grpc_client_tracing import traced_insecure_channel, traced_secure_channel

# Methods any certificate of the CA may call: whether a service serves is no secret.
IDENTITY_EXEMPT_PREFIXES = ("/grpc.health.v1.Health/",)
_IDENTITY_PROPERTIES = ("x509_common_name", "x509_subject_alternative_name")


class TlsSettings(BaseSettings):
    """Mutual TLS on the gRPC hops; on when the three files are set, off (plaintext) when none is."""

    model_config = SettingsConfigDict(env_prefix="OMS_TLS_", frozen=True)

    # PEM file of the CA that signs the mesh's certificates: servers accept only clients it
    # signed, clients only servers it signed. Setting the three OMS_TLS_* files turns mTLS on.
    ca_file: Path | None = None
    # PEM certificate of this process (its identity: CN or SAN), shown to both servers and clients.
    cert_file: Path | None = None
    # PEM private key of OMS_TLS_CERT_FILE (keep it readable by the service only).
    key_file: Path | None = None

    @model_validator(mode="after")
    def _all_or_none(self) -> Self:
        given = [f for f in (self.ca_file, self.cert_file, self.key_file) if f is not None]
        if given and len(given) != 3:
            raise ValueError("set all of OMS_TLS_CA_FILE, OMS_TLS_CERT_FILE and OMS_TLS_KEY_FILE, or none")
        for variable, path in (
            ("OMS_TLS_CA_FILE", self.ca_file),
            ("OMS_TLS_CERT_FILE", self.cert_file),
            ("OMS_TLS_KEY_FILE", self.key_file),
        ):
            if path is not None and not path.is_file():
                raise ValueError(f"{variable}={str(path)!r}: no such file")
        return self

    @property
    def enabled(self) -> bool:
        return self.ca_file is not None


@dataclass(frozen=True)
class MeshTls:
    """The PEM bytes of one process's mTLS material, read once at start."""

    ca: bytes
    cert: bytes
    key: bytes

    @classmethod
    def from_settings(cls, settings: TlsSettings) -> MeshTls | None:
        """None when TLS is off."""
        if settings.ca_file is None or settings.cert_file is None or settings.key_file is None:
            return None
        return cls(settings.ca_file.read_bytes(), settings.cert_file.read_bytes(), settings.key_file.read_bytes())

    def server_credentials(self) -> grpc.ServerCredentials:
        # require_client_auth: a client without a certificate of our CA fails the handshake.
        return grpc.ssl_server_credentials([(self.key, self.cert)], root_certificates=self.ca, require_client_auth=True)

    def channel_credentials(self) -> grpc.ChannelCredentials:
        # gRPC checks the server certificate's names against the host of the target address.
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca, private_key=self.key, certificate_chain=self.cert
        )


def add_port(server: grpc.aio.Server, address: str, tls: MeshTls | None) -> int:
    """Binds ``address`` (mutual TLS when ``tls``, plaintext otherwise); the port actually bound."""
    if tls is None:
        return server.add_insecure_port(address)
    return server.add_secure_port(address, tls.server_credentials())


def channel(target: str, tls: MeshTls | None, *, options: Sequence[tuple[str, Any]] | None = None) -> grpc.aio.Channel:
    """A traced channel to another service of the mesh: mutual TLS when ``tls``, plaintext otherwise."""
    if tls is None:
        return traced_insecure_channel(target, options=options)
    return traced_secure_channel(target, tls.channel_credentials(), options=options)


def peer_identities(auth_context: Mapping[str, Iterable[bytes]]) -> set[str]:
    """The identities a verified client certificate carries: its common name and every SAN."""
    found: set[str] = set()
    for key in _IDENTITY_PROPERTIES:
        for value in auth_context.get(key, ()):
            found.add(value.decode(errors="replace"))
    return found


class PeerIdentityInterceptor(WrappingInterceptor):
    """Refuses (PERMISSION_DENIED) calls whose client certificate names no allowed identity.

    The handshake already proved the certificate is signed by the CA; this decides which of
    the CA's certificates may call this service (the gateway, order_svc for inventory, the
    operator's tools). Runs inside the RPC because only the servicer context has the peer's
    auth context.
    """

    def __init__(self, allowed: Iterable[str]) -> None:
        self._allowed = frozenset(allowed)

    def wrap(self, handler: Handler, method: str) -> Handler:
        if method.startswith(IDENTITY_EXEMPT_PREFIXES):
            return handler

        def unary(behavior: Unary) -> Unary:
            async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
                await self._check(context)
                return await behavior(request, context)

            return call

        def streaming(behavior: Streaming) -> Streaming:
            async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
                await self._check(context)
                async for message in behavior(request, context):
                    yield message

            return call

        return rewrap(handler, unary=unary, streaming=streaming)

    async def _check(self, context: grpc.aio.ServicerContext) -> None:
        identities = peer_identities(context.auth_context())
        if not identities & self._allowed:
            # The message names no identity: the refused caller learns nothing about the list.
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "this client certificate may not call this service")


def server_interceptors(tls: MeshTls | None, allowed_clients: Iterable[str]) -> list[grpc.aio.ServerInterceptor]:
    """What a service puts first in its own interceptors: the identity check when TLS is on
    and an allowed list is configured (an empty list admits every certificate of the CA)."""
    allowed = [name for name in allowed_clients if name]
    if tls is None or not allowed:
        return []
    return [PeerIdentityInterceptor(allowed)]
