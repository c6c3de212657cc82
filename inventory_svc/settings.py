"""Settings of the inventory service process (``OMS_INVENTORY_*``; see docs/inventory.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from pydantic import Field
from pydantic_settings import NoDecode, SettingsConfigDict

from mesh.auth.settings import AuthSettings, load_auth
from mesh.auth.tls import TlsSettings
from mesh.settings.common import KafkaSettings, RedisSettings, ServiceSettings, load
from mesh.storage.paging import PageTokenSettings, load_page_token_settings


class InventorySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_INVENTORY_", frozen=True)

    grpc_port: int = Field(default=50052, ge=0, le=65535)
    metrics_port: int = Field(default=9102, ge=0, le=65535)
    database_url: str = "postgresql+asyncpg://oms:oms@127.0.0.1:15432/oms_inventory"
    # Every Redis key of this service starts with this; tests use a unique one per run.
    cache_key_prefix: str = "oms:inventory:"
    # After a Redis error the cache is skipped this long (a dead Redis costs one timeout per period).
    cache_breaker_s: float = Field(default=1.0, ge=0, le=60)
    # With mTLS on: who may call inventory (the gateway, order_svc's price and stock checks, operators).
    tls_allowed_clients: Annotated[tuple[str, ...], NoDecode] = ("gateway", "order", "oms-operator")


@dataclass(frozen=True)
class Config:
    """Everything the process reads from the environment, validated together at start."""

    service: InventorySettings
    kafka: KafkaSettings
    redis: RedisSettings
    auth: AuthSettings
    paging: PageTokenSettings = field(default_factory=PageTokenSettings)
    tls: TlsSettings = field(default_factory=TlsSettings)


def load_config() -> Config:
    return Config(
        service=load(InventorySettings),
        kafka=load(KafkaSettings),
        redis=load(RedisSettings),
        auth=load_auth(),
        paging=load_page_token_settings(),
        tls=load(TlsSettings),
    )
