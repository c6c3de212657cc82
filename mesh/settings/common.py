"""Typed settings read from environment variables, validated once at start.

Each service has its own prefix (``OMS_ORDER_`` ...); what every process shares (Kafka, Redis,
telemetry) has a prefix of its own. A wrong value fails fast with one line naming the variable.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the environment variable."""


# The only OMS_ENV value that allows the public development secrets and keys (the JWT secret,
# the page token key) and OMS_AUTH_ENABLED=false.
DEVELOPMENT = "development"


class DeploymentSettings(BaseSettings):
    """``OMS_ENV``: what kind of environment this process runs in."""

    model_config = SettingsConfigDict(env_prefix="OMS_", frozen=True)

    # `development` (make run, the tests) allows the public development JWT secret, the public
    # page token key and OMS_AUTH_ENABLED=false; any other value is a real deployment, where
    # they refuse to start.
    env: str = "production"

    @property
    def is_development(self) -> bool:
        return self.env.strip().lower() == DEVELOPMENT


class KafkaSettings(BaseSettings):
    """Where the Kafka cluster is and how topics are named."""

    model_config = SettingsConfigDict(env_prefix="OMS_KAFKA_", frozen=True)

    # Kafka bootstrap servers (host:port, comma-separated).
    bootstrap: str = "127.0.0.1:19092"
    # Prepended to every topic name: lets tests and parallel environments share one cluster.
    topic_prefix: str = ""
    # Partitions of each topic the services create (orders, inventory, payments).
    partitions: int = Field(default=6, ge=1, le=256)
    # Replicas of each topic; 1 on a single broker.
    replication_factor: int = Field(default=1, ge=1)
    # PLAINTEXT (development) or SSL: TLS to the brokers, their certificate and name verified.
    security_protocol: Literal["PLAINTEXT", "SSL"] = "PLAINTEXT"
    # With SSL: PEM file of the CA that signed the brokers' certificates (empty: the system's CAs).
    ssl_ca_file: str = ""
    # With SSL: PEM client certificate, for brokers that authenticate clients (ssl.client.auth=required).
    ssl_cert_file: str = ""
    # With SSL: PEM private key of OMS_KAFKA_SSL_CERT_FILE.
    ssl_key_file: str = ""

    @model_validator(mode="after")
    def _tls_consistent(self) -> Self:
        files = (self.ssl_ca_file, self.ssl_cert_file, self.ssl_key_file)
        if self.security_protocol == "PLAINTEXT" and any(files):
            # A forgotten protocol would otherwise send everything in clear text despite the files.
            raise ValueError("OMS_KAFKA_SSL_* files need OMS_KAFKA_SECURITY_PROTOCOL=SSL")
        if bool(self.ssl_cert_file) != bool(self.ssl_key_file):
            raise ValueError("set both OMS_KAFKA_SSL_CERT_FILE and OMS_KAFKA_SSL_KEY_FILE, or neither")
        return self

    def client_config(self) -> dict[str, Any]:
        """The librdkafka properties every producer, consumer and admin client starts from."""
        config: dict[str, Any] = {"bootstrap.servers": self.bootstrap, "security.protocol": self.security_protocol}
        if self.security_protocol == "SSL":
            # librdkafka checks the broker's name against its certificate ("https") by default;
            # said here so no client built from this can lose it.
            config["ssl.endpoint.identification.algorithm"] = "https"
            for key, value in (
                ("ssl.ca.location", self.ssl_ca_file),
                ("ssl.certificate.location", self.ssl_cert_file),
                ("ssl.key.location", self.ssl_key_file),
            ):
                if value:
                    config[key] = value
        return config


class RedisSettings(BaseSettings):
    """The cache. Optional in the sense that the services keep working when it is down."""

    model_config = SettingsConfigDict(env_prefix="OMS_REDIS_", frozen=True)

    # The cache; the services keep answering (from PostgreSQL) when it is down.
    url: str = "redis://127.0.0.1:16379/0"
    # Redis is a cache: a slow Redis must cost at most this much per call.
    timeout_s: float = Field(default=0.05, gt=0, le=5)
    # Lifetime of a cache entry; writes evict entries long before that.
    ttl_s: int = Field(default=300, ge=1)
    # With a rediss:// URL (TLS, certificate and host name verified): PEM file of the CA that
    # signed Redis's certificate (empty: the system's CAs).
    ssl_ca_file: str = ""
    # With rediss://: PEM client certificate, for a Redis with tls-auth-clients on.
    ssl_cert_file: str = ""
    # With rediss://: PEM private key of OMS_REDIS_SSL_CERT_FILE.
    ssl_key_file: str = ""

    @model_validator(mode="after")
    def _tls_consistent(self) -> Self:
        if not self.url.startswith("rediss://") and any((self.ssl_ca_file, self.ssl_cert_file, self.ssl_key_file)):
            raise ValueError("OMS_REDIS_SSL_* files need a rediss:// OMS_REDIS_URL")
        if bool(self.ssl_cert_file) != bool(self.ssl_key_file):
            raise ValueError("set both OMS_REDIS_SSL_CERT_FILE and OMS_REDIS_SSL_KEY_FILE, or neither")
        return self

    def tls_kwargs(self) -> dict[str, Any]:
        """redis-py's TLS arguments for ``Redis.from_url`` ({} for a plain redis:// URL)."""
        if not self.url.startswith("rediss://"):
            return {}
        kwargs: dict[str, Any] = {"ssl_cert_reqs": "required", "ssl_check_hostname": True}
        for key, value in (
            ("ssl_ca_certs", self.ssl_ca_file),
            ("ssl_certfile", self.ssl_cert_file),
            ("ssl_keyfile", self.ssl_key_file),
        ):
            if value:
                kwargs[key] = value
        return kwargs


class ServiceSettings(BaseSettings):
    """What every gRPC service process needs; subclasses set the env prefix."""

    model_config = SettingsConfigDict(frozen=True)

    # Interface the gRPC server (and the metrics endpoint) listens on.
    grpc_host: str = "127.0.0.1"
    # gRPC port (0: any free port).
    grpc_port: int = Field(ge=0, le=65535)
    # Prometheus /metrics port (0: no metrics endpoint).
    metrics_port: int = Field(default=0, ge=0, le=65535)
    # The service's own PostgreSQL database (SQLAlchemy URL, asyncpg driver).
    database_url: str
    # Most connections open to the database at once; callers beyond that wait (up to 10 s).
    db_pool_size: int = Field(default=20, ge=1, le=200)
    # Longest wait for a row lock (seconds, 0: no limit); past it the transaction fails and is retried.
    db_lock_timeout_s: float = Field(default=2.0, ge=0, le=600)
    # Longest run of one SQL statement (seconds, 0: no limit); past it the statement is cancelled.
    db_statement_timeout_s: float = Field(default=10.0, ge=0, le=3600)
    # Unary RPCs one caller (token subject; the peer address without one) may have in flight at
    # once; more are refused RESOURCE_EXHAUSTED. Streams have caps of their own and are not counted.
    max_concurrent_calls_per_principal: int = Field(default=64, ge=1, le=100_000)
    # In-flight RPCs get this long to finish after SIGTERM.
    shutdown_grace_s: float = Field(default=10.0, ge=0, le=300)
    # Apply the service's migrations at start (safe with several instances: advisory lock).
    migrate_on_start: bool = True
    # Run the event consumers (and background jobs) in this process.
    run_workers: bool = True
    # Run an outbox relay in this process; off when relays run as their own processes
    # (`python -m mesh.messaging.relay_main <service>`).
    run_relay: bool = True
    # Kafka consumer group (empty: the service's own default name).
    consumer_group: str = ""
    # Appended to the consumer group, so tests and parallel environments get their own offsets.
    consumer_group_suffix: str = ""
    # With mTLS on (OMS_TLS_*): the client certificate identities (CN or SAN, comma-separated)
    # that may call this service; any other certificate of the CA is refused PERMISSION_DENIED.
    # Empty: every certificate the CA signed. Health checks are open to every certificate of the CA.
    tls_allowed_clients: Annotated[tuple[str, ...], NoDecode] = ("gateway", "oms-operator")

    @field_validator("tls_allowed_clients", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    def group_id(self, default: str) -> str:
        """The Kafka consumer group id: the configured group (or ``default``) plus the suffix."""
        return (self.consumer_group or default) + self.consumer_group_suffix


def load(cls: type[SettingsT]) -> SettingsT:
    """Builds ``cls`` from the environment or raises SettingsError naming the variable."""
    try:
        return cls()
    except ValidationError as exc:
        raise SettingsError(_describe(cls, exc)) from None


def _describe(cls: type[BaseSettings], exc: ValidationError) -> str:
    prefix = str(cls.model_config.get("env_prefix", ""))
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        if not field:
            # A check across fields (model validator) has no single variable: its message names them.
            problems.append(str(error["msg"]).removeprefix("Value error, "))
            continue
        variable = (prefix + field).upper()
        given = error.get("input")
        shown = f"={given!r}" if isinstance(given, str | int | float) else ""
        problems.append(f"{variable}{shown}: {error['msg']}")
    return "bad setting: " + "; ".join(problems)
