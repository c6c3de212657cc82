"""``OMS_GATEWAY_*`` settings: typed, validated once at start (see docs/gateway.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from limits import parse
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from mesh.settings.targets import check_grpc_target

_REPO = Path(__file__).resolve().parent.parent


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_GATEWAY_", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    order_addr: str = "127.0.0.1:50051"
    inventory_addr: str = "127.0.0.1:50052"
    notify_addr: str = "127.0.0.1:50053"
    # Larger request bodies are refused before they are parsed.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    # Deadline of a unary call when the client sends no Grpc-Timeout.
    default_timeout_s: float = Field(default=10.0, gt=0, le=3600)
    # Deadline of a server stream when the client sends no Grpc-Timeout (EventSource reconnects).
    stream_timeout_s: float = Field(default=3600.0, gt=0, le=86400)
    # A stream ends (cleanly) after this long whatever Grpc-Timeout asks; EventSource reconnects.
    # It ends earlier, with an UNAUTHENTICATED error event, when its token expires.
    stream_max_lifetime_s: float = Field(default=900.0, gt=0, le=86400)
    # Open streams this gateway serves at once; more are answered 429 with Retry-After.
    max_streams: int = Field(default=1000, ge=1)
    # Open streams one caller may hold (token subject; the client address with auth disabled).
    max_streams_per_principal: int = Field(default=8, ge=1)
    # A comment line is sent on idle event streams this often, so proxies keep them open.
    sse_keepalive_s: float = Field(default=15.0, gt=0, le=600)
    # How long one connection attempt to an upstream may take before calls fail UNAVAILABLE.
    connect_timeout_s: float = Field(default=2.0, gt=0, le=60)
    health_timeout_s: float = Field(default=2.0, gt=0, le=60)
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    # proto3 JSON: print fields holding their zero value (grpc-gateway v2 does by default).
    emit_unpopulated: bool = True
    # Where .proto sources are read for OpenAPI descriptions (comments are not in _pb2 files).
    proto_path: Annotated[tuple[Path, ...], NoDecode] = (_REPO / "proto", _REPO / "third_party" / "googleapis")
    log_level: str = "info"
    # The web front end's build output (`npm run build`), served at / (shop) and /admin.
    web_dist: Path = _REPO / "web" / "dist"
    # PEM certificate (chain) the gateway serves HTTPS with; set with OMS_GATEWAY_TLS_KEY_FILE,
    # or neither (plain HTTP, for development or behind a TLS-terminating proxy).
    tls_cert_file: Path | None = None
    # PEM private key of OMS_GATEWAY_TLS_CERT_FILE.
    tls_key_file: Path | None = None

    @model_validator(mode="after")
    def _https_pair(self) -> Self:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("set both OMS_GATEWAY_TLS_CERT_FILE and OMS_GATEWAY_TLS_KEY_FILE, or neither")
        for variable, path in (
            ("OMS_GATEWAY_TLS_CERT_FILE", self.tls_cert_file),
            ("OMS_GATEWAY_TLS_KEY_FILE", self.tls_key_file),
        ):
            if path is not None and not path.is_file():
                raise ValueError(f"{variable}={str(path)!r}: no such file")
        return self

    # Rate limits per caller (token subject; the client address when anonymous) and route class
    # (docs/gateway.md "Rate limits"); beyond one, 429 with Retry-After.
    rate_limits_enabled: bool = True
    # GET (and HEAD) routes, in the `limits` notation ("600/minute", "10 per 1 second").
    rate_limit_reads: str = "600/minute"
    # Other methods, except order placement.
    rate_limit_writes: str = "120/minute"
    # PlaceOrder, on any of its routes.
    rate_limit_placement: str = "30/minute"
    # Server streams opened (how many may be open at once is OMS_GATEWAY_MAX_STREAMS_PER_PRINCIPAL).
    rate_limit_streams: str = "30/minute"
    # redis: one budget shared by every gateway replica (a local one while Redis is away);
    # memory: each replica counts on its own.
    rate_limit_storage: Literal["redis", "memory"] = "redis"
    # The Redis holding the shared counters (empty: OMS_REDIS_URL).
    rate_limit_redis_url: str = ""
    # Longest a rate-limit decision may wait on Redis before the local limit decides.
    rate_limit_redis_timeout_s: float = Field(default=0.05, gt=0, le=5)
    # After a Redis failure, the local limit decides alone for this long before Redis is tried again.
    rate_limit_breaker_s: float = Field(default=1.0, gt=0, le=600)
    # Prefix of the counters' keys in Redis.
    rate_limit_key_prefix: str = "oms:ratelimit"

    @field_validator("rate_limit_reads", "rate_limit_writes", "rate_limit_placement", "rate_limit_streams")
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            item = parse(value)
        except ValueError:
            raise ValueError('must be a rate such as "600/minute" or "10 per 1 second"') from None
        if item.amount < 1:
            raise ValueError("must allow at least one request")
        return value

    @field_validator("cors_origins", "proto_path", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("order_addr", "inventory_addr", "notify_addr")
    @classmethod
    def _grpc_target(cls, value: str) -> str:
        return check_grpc_target(value)

    def upstreams(self) -> dict[str, str]:
        """Upstream name → address. A service's name is the middle of its package: oms.<name>.v1."""
        return {"order": self.order_addr, "inventory": self.inventory_addr, "notify": self.notify_addr}
