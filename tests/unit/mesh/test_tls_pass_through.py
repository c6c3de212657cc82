"""TLS to PostgreSQL, Redis and Kafka: the settings become the clients' own TLS configuration."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from gateway.settings import GatewaySettings
from mesh.auth import dev_certs
from mesh.settings.common import KafkaSettings, RedisSettings, SettingsError, load
from mesh.storage.engine import engine_url_and_args


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ca")
    dev_certs.write(folder, ["gateway"])
    return folder


def test_kafka_is_plaintext_by_default_and_ssl_with_one_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert KafkaSettings(bootstrap="k:9092").client_config() == {
        "bootstrap.servers": "k:9092",
        "security.protocol": "PLAINTEXT",
    }
    monkeypatch.setenv("OMS_KAFKA_SECURITY_PROTOCOL", "SSL")
    assert load(KafkaSettings).client_config()["ssl.endpoint.identification.algorithm"] == "https"
    monkeypatch.setenv("OMS_KAFKA_SSL_CA_FILE", "/tls/ca.pem")
    monkeypatch.setenv("OMS_KAFKA_SSL_CERT_FILE", "/tls/order.pem")
    monkeypatch.setenv("OMS_KAFKA_SSL_KEY_FILE", "/tls/order-key.pem")
    config = load(KafkaSettings).client_config()
    assert config["security.protocol"] == "SSL"
    assert (config["ssl.ca.location"], config["ssl.certificate.location"], config["ssl.key.location"]) == (
        "/tls/ca.pem",
        "/tls/order.pem",
        "/tls/order-key.pem",
    )


def test_kafka_tls_files_without_ssl_are_refused_rather_than_sent_in_clear() -> None:
    with pytest.raises(ValueError, match="OMS_KAFKA_SECURITY_PROTOCOL=SSL"):
        KafkaSettings(ssl_ca_file="/tls/ca.pem")
    with pytest.raises(ValueError, match="OMS_KAFKA_SSL_KEY_FILE"):
        KafkaSettings(security_protocol="SSL", ssl_cert_file="/tls/order.pem")


def test_redis_tls_comes_from_the_rediss_scheme_with_verification() -> None:
    assert RedisSettings(url="redis://r:6379/0").tls_kwargs() == {}
    kwargs = RedisSettings(
        url="rediss://r:6380/0", ssl_ca_file="/tls/ca.pem", ssl_cert_file="/tls/c.pem", ssl_key_file="/tls/k.pem"
    ).tls_kwargs()
    assert kwargs == {
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
        "ssl_ca_certs": "/tls/ca.pem",
        "ssl_certfile": "/tls/c.pem",
        "ssl_keyfile": "/tls/k.pem",
    }
    with pytest.raises(ValueError, match="rediss://"):
        RedisSettings(url="redis://r:6379/0", ssl_ca_file="/tls/ca.pem")


def test_redis_client_built_from_the_settings_speaks_tls(ca: Path) -> None:
    from redis.asyncio.connection import SSLConnection

    from mesh.storage.cache import Cache

    cache = Cache.from_settings(
        RedisSettings(url="rediss://r:6380/0", ssl_ca_file=str(ca / "ca.pem")), service="t", key_prefix="t:"
    )
    pool = cache._client.connection_pool
    assert pool.connection_class is SSLConnection
    assert pool.connection_kwargs["ssl_ca_certs"] == str(ca / "ca.pem")


def test_postgres_without_tls_parameters_is_left_alone() -> None:
    url, args = engine_url_and_args("postgresql+asyncpg://u:p@db:5432/oms_order")
    assert args == {} and url.render_as_string(hide_password=False) == "postgresql+asyncpg://u:p@db:5432/oms_order"


def test_postgres_verify_full_checks_the_certificate_and_the_host_name(ca: Path) -> None:
    url, args = engine_url_and_args(
        f"postgresql+asyncpg://u:p@db:5432/oms_order?sslmode=verify-full&sslrootcert={ca / 'ca.pem'}&application_name=x"
    )
    context = args["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert any("OMS development CA" in str(c.get("subject")) for c in context.get_ca_certs())
    # The libpq parameters are consumed; other query parameters stay for asyncpg.
    assert dict(url.query) == {"application_name": "x"}


def test_postgres_modes_follow_libpq(ca: Path) -> None:
    base = "postgresql+asyncpg://u:p@db/oms"
    assert engine_url_and_args(f"{base}?sslmode=disable")[1] == {"ssl": False}
    assert engine_url_and_args(f"{base}?sslmode=prefer")[1] == {"ssl": "prefer"}
    require = engine_url_and_args(f"{base}?sslmode=require")[1]["ssl"]
    assert require.verify_mode == ssl.CERT_NONE and not require.check_hostname
    # require with a root certificate verifies it, as libpq does; verify-ca skips the name only.
    for mode in ("require", "verify-ca"):
        context = engine_url_and_args(f"{base}?sslmode={mode}&sslrootcert={ca / 'ca.pem'}")[1]["ssl"]
        assert context.verify_mode == ssl.CERT_REQUIRED and not context.check_hostname
    files = f"sslrootcert={ca / 'ca.pem'}&sslcert={ca / 'gateway.pem'}&sslkey={ca / 'gateway-key.pem'}"
    client = engine_url_and_args(f"{base}?sslmode=verify-full&{files}")[1]["ssl"]
    assert client.check_hostname
    with pytest.raises(ValueError, match="sslmode='sometimes'"):
        engine_url_and_args(f"{base}?sslmode=sometimes")


def test_gateway_https_needs_the_certificate_and_its_key(monkeypatch: pytest.MonkeyPatch, ca: Path) -> None:
    assert GatewaySettings().tls_cert_file is None
    monkeypatch.setenv("OMS_GATEWAY_TLS_CERT_FILE", str(ca / "gateway.pem"))
    with pytest.raises(SettingsError, match="OMS_GATEWAY_TLS_KEY_FILE"):
        load(GatewaySettings)
    monkeypatch.setenv("OMS_GATEWAY_TLS_KEY_FILE", str(ca / "nowhere.pem"))
    with pytest.raises(SettingsError, match="no such file"):
        load(GatewaySettings)
    monkeypatch.setenv("OMS_GATEWAY_TLS_KEY_FILE", str(ca / "gateway-key.pem"))
    assert load(GatewaySettings).tls_key_file == ca / "gateway-key.pem"
