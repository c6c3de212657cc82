"""Settings of the notification service, from ``OMS_NOTIFY_*`` (documented in docs/notifications.md).

The one place the process's configuration is loaded: ``load_config()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from mesh.auth.settings import AuthSettings, load_auth
from mesh.auth.tls import TlsSettings
from mesh.settings.common import DeploymentSettings, KafkaSettings, ServiceSettings, load
from mesh.storage.paging import PageTokenSettings, load_page_token_settings


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_NOTIFY_", frozen=True)

    grpc_port: int = Field(default=50053, ge=0, le=65535)
    metrics_port: int = Field(default=9103, ge=0, le=65535)
    database_url: str = "postgresql+asyncpg://oms:oms@127.0.0.1:15432/oms_notify"

    # Mail server host (the dev sink, `python -m notify_svc.dev_smtp`, by default).
    smtp_host: str = "127.0.0.1"
    # Mail server port.
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    # SMTP AUTH user; set together with the password, or neither.
    smtp_username: str | None = None
    # SMTP AUTH password (never logged).
    smtp_password: SecretStr | None = None
    # STARTTLS upgrades a plain connection (port 587); TLS is implicit TLS from the start (465).
    smtp_starttls: bool = False
    # Implicit TLS from the first byte (port 465); excludes STARTTLS.
    smtp_tls: bool = False
    # Verify the mail server's TLS certificate.
    smtp_validate_certs: bool = True
    # Per SMTP operation (connect, each command).
    smtp_timeout_s: float = Field(default=10.0, gt=0, le=300)
    # From header and envelope sender of every email.
    mail_from: str = "OMS Shop <orders@oms.local>"
    # Right-hand side of every Message-ID (<notification_id@domain>).
    message_id_domain: str = "oms.local"

    # Delivery attempts before a notification is FAILED (a 5xx refusal fails it at once).
    max_attempts: int = Field(default=6, ge=1, le=100)
    # Wait after the first failed attempt; it doubles after each further one.
    retry_base_s: float = Field(default=10.0, gt=0)
    # Longest wait between two attempts.
    retry_max_s: float = Field(default=900.0, gt=0)
    # Emails in flight at once (one SMTP connection each).
    dispatch_concurrency: int = Field(default=8, ge=1, le=256)
    # Fallback poll: in-process commits wake the dispatcher at once; this catches the rest
    # (other instances' rows, retries falling due, RetryNotification on another instance).
    dispatch_poll_s: float = Field(default=1.0, gt=0, le=60)
    # A claimed row is ours this long; after a crash it is sent again once the lease ran out.
    claim_lease_s: float = Field(default=120.0, gt=0, le=3600)

    # SMS gateway text messages are POSTed to (adapters/sms_channel.py; the development sink is
    # `python -m notify_svc.dev_sms`). Empty: no SMS channel, customers are told by email only.
    sms_gateway_url: str = ""
    # Bearer token for the SMS gateway (never logged); empty: none sent.
    sms_gateway_token: SecretStr | None = None
    # Sender name or number of every text message.
    sms_sender: str = Field(default="OMS Shop", min_length=1, max_length=20)
    # Whole SMS gateway request.
    sms_timeout_s: float = Field(default=10.0, gt=0, le=300)

    # Whole webhook POST (connect, send, the endpoint's answer); longer counts as a failed attempt.
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # POST attempts before a webhook delivery is FAILED (a 4xx other than 408/425/429 fails it at once).
    webhook_max_attempts: int = Field(default=10, ge=1, le=100)
    # Wait after the first failed attempt; it doubles after each further one, with jitter (50-100 %).
    webhook_retry_base_s: float = Field(default=5.0, gt=0)
    # Longest wait between two attempts (before jitter).
    webhook_retry_max_s: float = Field(default=3600.0, gt=0)
    # Webhook POSTs in flight at once.
    webhook_concurrency: int = Field(default=16, ge=1, le=256)
    # A claimed delivery is ours this long; after a crash it is POSTed again (same webhook-id) once it ran out.
    webhook_claim_lease_s: float = Field(default=60.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.smtp_tls and self.smtp_starttls:
            raise ValueError("OMS_NOTIFY_SMTP_TLS and OMS_NOTIFY_SMTP_STARTTLS exclude each other")
        if self.retry_max_s < self.retry_base_s:
            raise ValueError("OMS_NOTIFY_RETRY_MAX_S must be at least OMS_NOTIFY_RETRY_BASE_S")
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("set both OMS_NOTIFY_SMTP_USERNAME and OMS_NOTIFY_SMTP_PASSWORD, or neither")
        if self.claim_lease_s < 2 * self.smtp_timeout_s:
            raise ValueError("OMS_NOTIFY_CLAIM_LEASE_S must be at least twice OMS_NOTIFY_SMTP_TIMEOUT_S")
        if self.sms_gateway_url and self.claim_lease_s < 2 * self.sms_timeout_s:
            raise ValueError("OMS_NOTIFY_CLAIM_LEASE_S must be at least twice OMS_NOTIFY_SMS_TIMEOUT_S")
        if self.webhook_claim_lease_s < 2 * self.webhook_timeout_s:
            raise ValueError("OMS_NOTIFY_WEBHOOK_CLAIM_LEASE_S must be at least twice OMS_NOTIFY_WEBHOOK_TIMEOUT_S")
        if self.webhook_retry_max_s < self.webhook_retry_base_s:
            raise ValueError("OMS_NOTIFY_WEBHOOK_RETRY_MAX_S must be at least OMS_NOTIFY_WEBHOOK_RETRY_BASE_S")
        if self.sms_gateway_url and not self.sms_gateway_url.startswith(("https://", "http://")):
            raise ValueError("OMS_NOTIFY_SMS_GATEWAY_URL must be an http(s):// URL")
        return self


@dataclass(frozen=True)
class Config:
    """Everything ``python -m notify_svc`` reads from the environment."""

    service: NotifySettings
    kafka: KafkaSettings
    auth: AuthSettings = field(default_factory=AuthSettings)
    paging: PageTokenSettings = field(default_factory=PageTokenSettings)
    tls: TlsSettings = field(default_factory=TlsSettings)
    # OMS_ENV=development: webhook endpoints may be plain http on a loopback address (the tests').
    deployment: DeploymentSettings = field(default_factory=DeploymentSettings)


def load_config() -> Config:
    return Config(
        service=load(NotifySettings),
        kafka=load(KafkaSettings),
        auth=load_auth(),
        paging=load_page_token_settings(),
        tls=load(TlsSettings),
        deployment=load(DeploymentSettings),
    )
