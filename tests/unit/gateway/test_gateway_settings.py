"""Settings are typed and validated at start; a bad value is one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.settings import GatewaySettings
from mesh.settings.common import SettingsError, load

REPO = Path(__file__).resolve().parents[3]


def test_defaults_match_the_documented_topology(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OMS_GATEWAY_"):
            monkeypatch.delenv(name)
    settings = load(GatewaySettings)
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.upstreams() == {
        "order": "127.0.0.1:50051",
        "inventory": "127.0.0.1:50052",
        "notify": "127.0.0.1:50053",
        "payment": "127.0.0.1:50054",
    }
    assert settings.max_body_bytes == 1024 * 1024


def test_lists_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMS_GATEWAY_CORS_ORIGINS", "https://a.example, https://b.example")
    assert load(GatewaySettings).cors_origins == ("https://a.example", "https://b.example")


@pytest.mark.parametrize(
    ("name", "value"),
    [("OMS_GATEWAY_PORT", "http"), ("OMS_GATEWAY_ORDER_ADDR", "localhost"), ("OMS_GATEWAY_MAX_BODY_BYTES", "0")],
)
def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load(GatewaySettings)


def test_the_entry_point_exits_with_one_line_on_a_bad_value() -> None:
    env = {**os.environ, "OMS_GATEWAY_PORT": "eighty"}
    done = subprocess.run(
        [sys.executable, "-m", "gateway"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "OMS_GATEWAY_PORT" in lines[0], done.stderr
