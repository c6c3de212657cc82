"""NotifySettings: documented defaults, the OMS_NOTIFY_ prefix, one-line errors."""

from __future__ import annotations

import pytest

from mesh.settings.common import SettingsError, load
from notify_svc.bootstrap import CONSUMER_GROUP
from notify_svc.settings import NotifySettings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("OMS_NOTIFY_"):
            monkeypatch.delenv(name)


def test_defaults() -> None:
    settings = load(NotifySettings)
    assert (settings.grpc_port, settings.metrics_port) == (50053, 9103)
    assert settings.database_url == "postgresql+asyncpg://oms:oms@127.0.0.1:15432/oms_notify"
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_starttls, settings.smtp_tls) == (
        "127.0.0.1",
        1025,
        False,
        False,
    )
    assert settings.mail_from == "OMS Shop <orders@oms.local>"
    assert settings.max_attempts == 6
    assert settings.group_id(CONSUMER_GROUP) == "notify-svc"


def test_environment_variables_use_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMS_NOTIFY_SMTP_PORT", "2525")
    monkeypatch.setenv("OMS_NOTIFY_SMTP_USERNAME", "mailer")
    monkeypatch.setenv("OMS_NOTIFY_SMTP_PASSWORD", "s3cret")
    monkeypatch.setenv("OMS_NOTIFY_CONSUMER_GROUP_SUFFIX", "-t1")
    settings = load(NotifySettings)
    assert settings.smtp_port == 2525
    assert settings.smtp_password is not None and settings.smtp_password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert settings.group_id(CONSUMER_GROUP) == "notify-svc-t1"


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"OMS_NOTIFY_SMTP_PORT": "x"}, "OMS_NOTIFY_SMTP_PORT='x'"),
        ({"OMS_NOTIFY_SMTP_TLS": "1", "OMS_NOTIFY_SMTP_STARTTLS": "1"}, "exclude each other"),
        ({"OMS_NOTIFY_SMTP_USERNAME": "u"}, "set both OMS_NOTIFY_SMTP_USERNAME and OMS_NOTIFY_SMTP_PASSWORD"),
        ({"OMS_NOTIFY_RETRY_BASE_S": "100", "OMS_NOTIFY_RETRY_MAX_S": "10"}, "OMS_NOTIFY_RETRY_MAX_S must be"),
        ({"OMS_NOTIFY_CLAIM_LEASE_S": "5"}, "OMS_NOTIFY_CLAIM_LEASE_S must be at least twice"),
    ],
)
def test_bad_settings_fail_with_one_line(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], message: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load(NotifySettings)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert "OMS_NOTIFY_:" not in str(caught.value)


def test_sms_is_off_and_webhooks_have_bounded_defaults_unless_configured() -> None:
    settings = load(NotifySettings)
    assert (settings.sms_gateway_url, settings.sms_sender) == ("", "OMS Shop")
    assert (settings.webhook_timeout_s, settings.webhook_max_attempts, settings.webhook_claim_lease_s) == (10, 10, 60)


@pytest.mark.parametrize(
    ("variables", "words"),
    [
        ({"OMS_NOTIFY_WEBHOOK_CLAIM_LEASE_S": "5"}, "OMS_NOTIFY_WEBHOOK_CLAIM_LEASE_S must be at least twice"),
        ({"OMS_NOTIFY_WEBHOOK_RETRY_MAX_S": "1"}, "OMS_NOTIFY_WEBHOOK_RETRY_MAX_S must be at least"),
        ({"OMS_NOTIFY_SMS_GATEWAY_URL": "127.0.0.1:1026"}, "OMS_NOTIFY_SMS_GATEWAY_URL must be an http(s):// URL"),
        (
            {
                "OMS_NOTIFY_SMS_GATEWAY_URL": "http://127.0.0.1:1026/messages",
                "OMS_NOTIFY_CLAIM_LEASE_S": "5",
                "OMS_NOTIFY_SMTP_TIMEOUT_S": "1",
            },
            "OMS_NOTIFY_CLAIM_LEASE_S must be at least twice OMS_NOTIFY_SMS_TIMEOUT_S",
        ),
    ],
)
def test_inconsistent_webhook_and_sms_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], words: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=words.replace("(", r"\(").replace(")", r"\)")):
        load(NotifySettings)
