"""`make run` (scripts/run) passes every OMS_* and OTEL_* setting of the caller through, as
docs/operations.md says; it fills in only what is unset, and starts its SMTP sink only when no
SMTP server is named."""

from __future__ import annotations

import os
import subprocess

from testkit.infra import ROOT

# Settings scripts/run has a default of its own for, and other ones it must not touch.
CALLERS = {
    "OMS_NOTIFY_SMTP_HOST": "mail.example.test",
    "OMS_NOTIFY_SMTP_PORT": "2525",
    "OMS_ORDER_INVENTORY_ADDR": "10.0.0.7:7000",
    "OMS_GATEWAY_HOST": "0.0.0.0",
    "OMS_GATEWAY_ORDER_ADDR": "10.0.0.8:7001",
    "OMS_GATEWAY_INVENTORY_ADDR": "10.0.0.8:7002",
    "OMS_GATEWAY_NOTIFY_ADDR": "10.0.0.8:7003",
    "OMS_ORDER_GRPC_PORT": "51051",
    "OMS_GATEWAY_PORT": "18080",
    "OMS_LOG_FORMAT": "json",
    "OMS_ENV": "development",
    "OMS_REDIS_URL": "redis://127.0.0.1:1/9",
    "OMS_ORDER_DATABASE_URL": "postgresql+asyncpg://u:p@127.0.0.1:1/mine",
    "OMS_NOTIFY_SMTP_USERNAME": "someone",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:14317",
    "OTEL_TRACES_SAMPLER": "always_off",
    "OTEL_SERVICE_NAME": "mine",
    "OTEL_SDK_DISABLED": "true",
}


def printed_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMS_", "OTEL_"))} | extra
    out = subprocess.run(
        [str(ROOT / "scripts" / "run"), "--print-env"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)


def test_every_oms_and_otel_setting_of_the_caller_is_kept() -> None:
    got = printed_env(CALLERS)
    assert {name: got.get(name) for name in CALLERS} == CALLERS
    assert got["SMTP_SINK"] == "0"  # the caller's server gets the mail, no sink is started


def test_a_port_alone_names_the_callers_smtp_server_too() -> None:
    got = printed_env({"OMS_NOTIFY_SMTP_PORT": "2525"})
    assert got["OMS_NOTIFY_SMTP_PORT"] == "2525" and got["SMTP_SINK"] == "0"


def test_without_an_smtp_server_mail_goes_to_the_runs_sink() -> None:
    got = printed_env({"OMS_RUN_SMTP_PORT": "11025"})
    assert (got["OMS_NOTIFY_SMTP_HOST"], got["OMS_NOTIFY_SMTP_PORT"], got["SMTP_SINK"]) == ("127.0.0.1", "11025", "1")
    # and the defaults a bare `make run` needs
    assert got["OMS_ORDER_INVENTORY_ADDR"] == "127.0.0.1:50052" and got["OMS_GATEWAY_PORT"] == "8080"
    assert got["OMS_LOG_FORMAT"] == "text" and got["OMS_ENV"] == "development"
