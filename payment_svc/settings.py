"""Settings of the payment service process (``OMS_PAYMENT_*``; see docs/payment.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import Field, SecretStr
from pydantic_settings import NoDecode, SettingsConfigDict

from mesh.auth.settings import AuthSettings, load_auth
from mesh.auth.tls import TlsSettings
from mesh.settings.common import KafkaSettings, ServiceSettings, load
from mesh.storage.paging import PageTokenSettings, load_page_token_settings


class PaymentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_PAYMENT_", frozen=True)

    grpc_port: int = Field(default=50054, ge=0, le=65535)
    metrics_port: int = Field(default=9104, ge=0, le=65535)
    database_url: str = "postgresql+asyncpg://oms:oms@127.0.0.1:15432/oms_payment"
    # Which card processor authorizes: the simulated one (development, tests) or Stripe.
    provider: Literal["simulated", "stripe"] = "simulated"
    # Stripe's secret key (sk_test_… / sk_live_…); required with provider=stripe.
    stripe_api_key: SecretStr = SecretStr("")
    # Where the Stripe API is; empty: Stripe's own. Tests point it at stripe-mock.
    stripe_api_base: str = ""
    # One provider call longer than this counts as an unknown outcome, settled by asking later.
    provider_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # The simulated provider's ledger: a JSON file shared by every process (and kept across
    # restarts) when set; in memory when empty.
    simulated_ledger: str = ""
    # How long the simulated provider's tok_slow takes.
    simulated_slow_s: float = Field(default=2.0, ge=0, le=60)
    # Provider calls that failed (down, timed out) are retried after retry_base_s, doubling up
    # to retry_max_s; the order waits meanwhile.
    retry_base_s: float = Field(default=1.0, gt=0, le=600)
    retry_max_s: float = Field(default=60.0, gt=0, le=3600)
    # A claimed provider step is someone's for this long before another replica may take it.
    claim_lease_s: float = Field(default=30.0, gt=0, le=3600)
    # How often the reconciler looks for provider steps that are due.
    reconcile_poll_s: float = Field(default=1.0, gt=0, le=600)
    # Test-only: the process kills itself (SIGKILL) at this point ("after_provider_call").
    failpoint: str = ""
    # With mTLS on: who may call payment (the gateway, operators).
    tls_allowed_clients: Annotated[tuple[str, ...], NoDecode] = ("gateway", "oms-operator")


@dataclass(frozen=True)
class Config:
    """Everything the process reads from the environment, validated together at start."""

    service: PaymentSettings
    kafka: KafkaSettings
    auth: AuthSettings
    paging: PageTokenSettings = field(default_factory=PageTokenSettings)
    tls: TlsSettings = field(default_factory=TlsSettings)


def load_config() -> Config:
    return Config(
        service=load(PaymentSettings),
        kafka=load(KafkaSettings),
        auth=load_auth(),
        paging=load_page_token_settings(),
        tls=load(TlsSettings),
    )
