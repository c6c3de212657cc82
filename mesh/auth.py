"""JWT bearer authentication shared by the gateway and every gRPC service.

The gateway verifies tokens to answer 401 early and forwards them as ``authorization``
metadata; each service verifies them again in ``AuthServerInterceptor`` so calling a service
port directly never bypasses authentication. Who may call what is each RPC's declared rule
(``mesh.authorization``, read from the ``(oms.options.v1.authorization)`` option).
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import grpc
import jwt
from google.protobuf.message import Message
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from mesh.authorization import PUBLIC_METHOD_PREFIXES, Access, Denied, Rule, rules
from mesh.authorization import ROLE_SERVICE as ROLE_SERVICE  # re-exported beside the other roles
from mesh.grpc_wrap import Handler, Streaming, Unary, WrappingInterceptor, rewrap
from mesh.jwks import RemoteKeySet
from mesh.settings import DEVELOPMENT, DeploymentSettings, SettingsError, load

log = logging.getLogger(__name__)

# Local development only: anyone can read this string, so tokens signed with it prove nothing.
DEV_JWT_SECRET = "oms-local-dev-secret-DO-NOT-USE-IN-PRODUCTION"

ROLE_CUSTOMER = "customer"
ROLE_ADMIN = "admin"
_HMAC = ("HS256", "HS384", "HS512")
_ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


class AuthSettings(BaseSettings):
    """``OMS_AUTH_*``: read identically by the gateway and the services."""

    model_config = SettingsConfigDict(env_prefix="OMS_AUTH_", frozen=True)

    enabled: bool = True
    jwt_secret: SecretStr | None = SecretStr(DEV_JWT_SECRET)
    # Path or http(s) URL of a JWKS; when set, asymmetric (RS256) tokens are verified with it.
    jwks: str | None = None
    algorithms: Annotated[tuple[str, ...], NoDecode] = ("HS256", "RS256")
    audience: str = "oms"
    issuer: str = "oms-local"
    # Tolerated clock skew between the token minter and this process.
    leeway_s: float = Field(default=30.0, ge=0, le=600)
    # JWKS URL only: a token with an unknown `kid` re-fetches the key set at most this often.
    jwks_refresh_interval_s: float = Field(default=30.0, ge=1, le=3600)
    # JWKS URL only: a fetch gives up after this long (the previous keys stay in use).
    jwks_timeout_s: float = Field(default=2.0, gt=0, le=30)
    # JWKS URL only: known keys are re-fetched once they are this old (rotation, revocation).
    jwks_max_age_s: float = Field(default=300.0, ge=10, le=86400)
    # The token this process presents to other services (ACCESS_INTERNAL RPCs), e.g. one issued
    # by the identity provider. Empty: a short-lived token with the `service` role is minted
    # with OMS_AUTH_JWT_SECRET.
    service_token: SecretStr | None = None

    @field_validator("algorithms", mode="before")
    @classmethod
    def _split_algorithms(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("algorithms")
    @classmethod
    def _known_algorithms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if name.lower() == "none":
                raise ValueError("'none' is never an accepted algorithm")
            if name not in _HMAC + _ASYMMETRIC:
                raise ValueError(f"unknown algorithm {name!r}")
        if not value:
            raise ValueError("at least one algorithm is required")
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # RFC 7518 3.2: an HS256 key shorter than the hash output is brute-forceable.
        if value is not None and 0 < len(value.get_secret_value().encode()) < 32:
            raise ValueError("must be at least 32 bytes (or empty to disable HS*)")
        return value

    @property
    def uses_dev_secret(self) -> bool:
        return self.jwt_secret is not None and self.jwt_secret.get_secret_value() == DEV_JWT_SECRET

    def effective_algorithms(self) -> tuple[str, ...]:
        """The allow-list narrowed to what the configured key material can verify.

        HMAC needs a secret; asymmetric algorithms need a JWKS. Once a JWKS is configured the
        public dev secret is no longer honoured: a deployment with real keys must not accept
        tokens anyone can mint.
        """
        hmac_ok = bool(self.jwt_secret and self.jwt_secret.get_secret_value())
        if self.jwks and self.uses_dev_secret:
            hmac_ok = False
        return tuple(a for a in self.algorithms if (a in _HMAC and hmac_ok) or (a in _ASYMMETRIC and self.jwks))


def deployment_problem(auth: AuthSettings, deployment: DeploymentSettings) -> str | None:
    """Why ``auth`` must not be used in ``deployment``, or None."""
    if deployment.is_development:
        return None
    if not auth.enabled:
        return f"OMS_AUTH_ENABLED=false turns authentication off: allowed only with OMS_ENV={DEVELOPMENT}"
    if auth.uses_dev_secret and any(a in _HMAC for a in auth.effective_algorithms()):
        return (
            "OMS_AUTH_JWT_SECRET is the public development secret, so anyone can mint tokens: set a secret "
            f"of your own (32+ random bytes, e.g. `openssl rand -hex 32`), or OMS_ENV={DEVELOPMENT} for local use"
        )
    return None


def load_auth() -> AuthSettings:
    """``AuthSettings`` from the environment, refused (SettingsError) where they would be unsafe."""
    auth = load(AuthSettings)
    problem = deployment_problem(auth, load(DeploymentSettings))
    if problem:
        raise SettingsError(f"bad setting: {problem}")
    return auth


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``id`` is the token's ``sub`` (a customer's customer_id)."""

    id: str
    roles: frozenset[str] = field(default_factory=frozenset)
    # Unix time after which the token is refused (its ``exp`` plus the leeway); long-lived streams
    # end then. None: no token (auth disabled). Not part of equality: it describes the token.
    expires_at: float | None = field(default=None, compare=False)

    @property
    def is_admin(self) -> bool:
        return ROLE_ADMIN in self.roles


# Used when auth is disabled, so handlers never need a "no auth" branch of their own.
SYNTHETIC_ADMIN = Principal(id="auth-disabled", roles=frozenset({ROLE_ADMIN}))
# A caller without a token, on a public RPC: no id, no roles.
ANONYMOUS = Principal(id="", roles=frozenset())


class AuthError(Exception):
    """Authentication failed; the message is safe to show to the caller."""


class VerifiedTokens:
    """Tokens that passed every check, so the next request with the same token skips the crypto.

    A client sends the same bearer token with every call, and verifying it costs more than a
    cache hit by two orders of magnitude. An entry is used only inside the token's own
    ``nbf``/``exp`` window (same leeway as a full check) and at most ``max_age_s`` after it was
    verified, so a key removed from a JWKS stops being honoured within that time. Failures are
    never cached: a bad token pays the full check every time.
    """

    def __init__(self, *, leeway_s: float, max_age_s: float = 300.0, capacity: int = 4096) -> None:
        self._leeway = leeway_s
        self._max_age = max_age_s
        self._capacity = capacity
        # token -> (principal, usable from, usable until), both on the wall clock like exp/nbf
        self._entries: dict[str, tuple[Principal, float, float]] = {}
        self._lock = threading.Lock()  # JWKS verification runs in worker threads

    def get(self, token: str) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        principal, usable_from, usable_until = entry
        if usable_from <= time.time() < usable_until:
            return principal
        with self._lock:
            self._entries.pop(token, None)
        return None

    def put(self, token: str, principal: Principal, claims: Mapping[str, Any]) -> None:
        now = time.time()
        usable_until = min(float(claims["exp"]) + self._leeway, now + self._max_age)
        nbf = claims.get("nbf")
        usable_from = float(nbf) - self._leeway if isinstance(nbf, int | float) else float("-inf")
        with self._lock:
            if len(self._entries) >= self._capacity:
                # Oldest first: dicts keep insertion order, and a re-verified token is re-inserted.
                del self._entries[next(iter(self._entries))]
            self._entries[token] = (principal, usable_from, usable_until)

    def __len__(self) -> int:
        return len(self._entries)


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
        if algorithm in _HMAC:
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


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("oms_principal", default=None)


def current_principal() -> Principal | None:
    """The caller of the RPC being handled; None outside an authenticated RPC."""
    return _current.get()


class AuthServerInterceptor(WrappingInterceptor):
    """Enforces each RPC's declared rule (``mesh.authorization``) on the service's own port.

    The rules are read from the descriptors once, when the interceptor is built; a method
    without one is refused. The check runs inside the RPC (wrapping the handler) so it can abort
    with a proper status, see the request (a customer's ``owner_field``) and set the principal
    in the handler's own context; grpc.aio runs each RPC in its own task, so the contextvar
    never leaks between calls.
    """

    def __init__(
        self,
        verifier: TokenVerifier,
        method_rules: Mapping[str, Rule] | None = None,
        public_methods_prefixes: tuple[str, ...] = PUBLIC_METHOD_PREFIXES,
    ) -> None:
        self._verifier = verifier
        self._rules = dict(rules() if method_rules is None else method_rules)
        self._public = public_methods_prefixes

    def wrap(self, handler: Handler, method: str) -> Handler:
        if method.startswith(self._public):
            return handler
        rule = self._rules.get(method) or Rule(method, Access.UNSPECIFIED)
        return _wrap_handler(handler, lambda request, context: self._authorize(rule, request, context))

    async def _authorize(self, rule: Rule, request: Any, context: grpc.aio.ServicerContext) -> None:
        header = _metadata_value(context.invocation_metadata(), "authorization")
        try:
            if header is None and not rule.needs_token:
                principal = ANONYMOUS if self._verifier.settings.enabled else SYNTHETIC_ADMIN
            else:
                principal = await verify_off_loop(self._verifier, header)
        except AuthError as exc:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
            raise  # abort raises; this only tells readers (and mypy) that we never go on
        try:
            rule.check(principal, request if isinstance(request, Message) else None)
        except Denied as exc:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(exc))
        _current.set(principal)


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


def _metadata_value(metadata: Any, key: str) -> str | None:
    for item_key, value in metadata or ():
        if item_key == key:
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


_Check = Callable[[Any, grpc.aio.ServicerContext], Awaitable[None]]


def _wrap_handler(handler: grpc.RpcMethodHandler[Any, Any], check: _Check) -> grpc.RpcMethodHandler[Any, Any]:
    """Returns a handler of the same kind whose behaviour runs ``check`` first."""

    def unary(behavior: Unary) -> Unary:
        async def checked(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await check(request, context)
            return await behavior(request, context)

        return checked

    def streaming(behavior: Streaming) -> Streaming:
        async def checked(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            await check(request, context)
            async for response in behavior(request, context):
                yield response

        return checked

    return rewrap(handler, unary=unary, streaming=streaming)
