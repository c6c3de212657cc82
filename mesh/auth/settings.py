"""``OMS_AUTH_*``: which tokens this process accepts, refused at start where unsafe."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from mesh.settings.common import DEVELOPMENT, DeploymentSettings, SettingsError, load

# Local development only: anyone can read this string, so tokens signed with it prove nothing.
DEV_JWT_SECRET = "oms-local-dev-secret-DO-NOT-USE-IN-PRODUCTION"

HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


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
            if name not in HMAC_ALGORITHMS + ASYMMETRIC_ALGORITHMS:
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
        return tuple(
            a
            for a in self.algorithms
            if (a in HMAC_ALGORITHMS and hmac_ok) or (a in ASYMMETRIC_ALGORITHMS and self.jwks)
        )


def deployment_problem(auth: AuthSettings, deployment: DeploymentSettings) -> str | None:
    """Why ``auth`` must not be used in ``deployment``, or None."""
    if deployment.is_development:
        return None
    if not auth.enabled:
        return f"OMS_AUTH_ENABLED=false turns authentication off: allowed only with OMS_ENV={DEVELOPMENT}"
    if auth.uses_dev_secret and any(a in HMAC_ALGORITHMS for a in auth.effective_algorithms()):
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
