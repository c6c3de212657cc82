"""Typed settings read from environment variables, validated once at start.

Each service has its own prefix (``OMS_ORDER_`` ...); what every process shares (Kafka, Redis,
telemetry) has a prefix of its own. A wrong value fails fast with one line naming the variable.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the environment variable."""


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


class RedisSettings(BaseSettings):
    """The cache. Optional in the sense that the services keep working when it is down."""

    model_config = SettingsConfigDict(env_prefix="OMS_REDIS_", frozen=True)

    # The cache; the services keep answering (from PostgreSQL) when it is down.
    url: str = "redis://127.0.0.1:16379/0"
    # Redis is a cache: a slow Redis must cost at most this much per call.
    timeout_s: float = Field(default=0.05, gt=0, le=5)
    # Lifetime of a cache entry; writes evict entries long before that.
    ttl_s: int = Field(default=300, ge=1)


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
    # (`python -m mesh.relay_main <service>`).
    run_relay: bool = True
    # Kafka consumer group (empty: the service's own default name).
    consumer_group: str = ""
    # Appended to the consumer group, so tests and parallel environments get their own offsets.
    consumer_group_suffix: str = ""

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
