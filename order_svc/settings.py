"""Settings of the order service (environment variables ``OMS_ORDER_*``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_settings import SettingsConfigDict

from mesh.auth.settings import AuthSettings, load_auth
from mesh.auth.tls import TlsSettings
from mesh.settings.common import KafkaSettings, RedisSettings, ServiceSettings, load
from mesh.settings.targets import check_grpc_target
from mesh.storage.paging import PageTokenSettings, load_page_token_settings


class OrderSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_ORDER_", frozen=True)

    grpc_port: int = Field(default=50051, ge=0, le=65535)
    metrics_port: int = Field(default=9101, ge=0, le=65535)
    database_url: str = "postgresql+asyncpg://oms:oms@127.0.0.1:15432/oms_order"
    # The inventory service, for prices and the stock pre-check: host:port, or dns:///name:port
    # (or ipv4:a:port,b:port) for several replicas, balanced round robin over the healthy ones.
    inventory_addr: Annotated[str, AfterValidator(check_grpc_target)] = "127.0.0.1:50052"
    # The stock pre-check may cost a placement at most this long before the saga decides.
    precheck_deadline_s: float = Field(default=0.25, gt=0, le=10)
    # Ask inventory before accepting an order, to refuse clearly short ones at once.
    stock_precheck: bool = True
    # Failed inventory calls in a row that open the circuit breaker.
    breaker_failures: int = Field(default=5, ge=1)
    # How long an open breaker refuses calls before it lets one trial through.
    breaker_reset_s: float = Field(default=5.0, gt=0)
    # A CONFIRMED order not PAID within this long is cancelled and its stock released.
    payment_timeout_s: float = Field(default=1800.0, gt=0)
    # How often the unpaid-order sweeper looks for expired reservations.
    sweep_interval_s: float = Field(default=30.0, gt=0)
    # Open WatchOrder streams this process serves at once; more are refused RESOURCE_EXHAUSTED.
    watch_max_streams: int = Field(default=1000, ge=1)
    # Open WatchOrder streams one caller (token subject) may hold in this process.
    watch_max_per_principal: int = Field(default=8, ge=1)
    # A WatchOrder stream ends (status OK, order not final) after this long, whatever deadline the
    # client set; the client resubscribes. It also ends, UNAUTHENTICATED, when its token expires.
    watch_max_lifetime_s: float = Field(default=900.0, gt=0, le=86400)
    # A watched order is re-read at least this often even without a change notification.
    watch_refresh_s: float = Field(default=5.0, gt=0, le=3600)
    # An order still PENDING this long after it was placed is logged as an incident (once).
    pending_incident_after_s: float = Field(default=300.0, gt=0)
    # How often the oldest PENDING order's age is measured (the metric) and overdue ones logged.
    pending_check_interval_s: float = Field(default=10.0, gt=0)


@dataclass(frozen=True)
class Config:
    """Everything the process reads from the environment, validated together at start."""

    service: OrderSettings
    kafka: KafkaSettings
    redis: RedisSettings
    auth: AuthSettings
    paging: PageTokenSettings = field(default_factory=PageTokenSettings)
    tls: TlsSettings = field(default_factory=TlsSettings)


def load_config() -> Config:
    return Config(
        service=load(OrderSettings),
        kafka=load(KafkaSettings),
        redis=load(RedisSettings),
        auth=load_auth(),
        paging=load_page_token_settings(),
        tls=load(TlsSettings),
    )
