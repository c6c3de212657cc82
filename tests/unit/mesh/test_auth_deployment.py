"""The public development secret (and auth switched off) only where OMS_ENV says development.

Anyone can read DEV_JWT_SECRET in this repository, so a service that accepts it accepts tokens
anyone can mint. Each process refuses to start with it unless the environment is explicitly a
development one (``make run`` and the tests set OMS_ENV=development); the message is one line
naming the variable.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mesh.auth.settings import DEV_JWT_SECRET, AuthSettings, deployment_problem, load_auth
from mesh.settings.common import DeploymentSettings, SettingsError

ROOT = Path(__file__).resolve().parents[3]
OWN_SECRET = "a-secret-of-our-own-that-is-long-enough-0123456789"
PRODUCTION = DeploymentSettings(env="production")
DEVELOPMENT = DeploymentSettings(env="development")


def test_the_dev_secret_is_refused_outside_development() -> None:
    problem = deployment_problem(AuthSettings(jwt_secret=DEV_JWT_SECRET), PRODUCTION)
    assert problem is not None and problem.startswith("OMS_AUTH_JWT_SECRET")
    assert "OMS_ENV=development" in problem
    assert deployment_problem(AuthSettings(jwt_secret=DEV_JWT_SECRET), DEVELOPMENT) is None


def test_a_secret_of_ones_own_or_a_jwks_is_fine_anywhere(tmp_path: Path) -> None:
    assert deployment_problem(AuthSettings(jwt_secret=OWN_SECRET), PRODUCTION) is None
    # With a JWKS the dev secret is not honoured at all (effective_algorithms drops HS*).
    jwks = tmp_path / "jwks.json"
    jwks.write_text('{"keys": []}')
    assert deployment_problem(AuthSettings(jwt_secret=DEV_JWT_SECRET, jwks=str(jwks)), PRODUCTION) is None


def test_switching_auth_off_is_for_development_only() -> None:
    problem = deployment_problem(AuthSettings(enabled=False, jwt_secret=OWN_SECRET), PRODUCTION)
    assert problem is not None and problem.startswith("OMS_AUTH_ENABLED=false")
    assert deployment_problem(AuthSettings(enabled=False), DEVELOPMENT) is None


def test_load_auth_reads_oms_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMS_AUTH_JWT_SECRET", raising=False)
    monkeypatch.delenv("OMS_ENV", raising=False)
    with pytest.raises(SettingsError, match="OMS_AUTH_JWT_SECRET"):
        load_auth()
    monkeypatch.setenv("OMS_ENV", "development")
    assert load_auth().uses_dev_secret
    monkeypatch.setenv("OMS_ENV", "staging")
    monkeypatch.setenv("OMS_AUTH_JWT_SECRET", OWN_SECRET)
    assert not load_auth().uses_dev_secret


@pytest.mark.parametrize("module", ["order_svc", "inventory_svc", "notify_svc", "gateway"])
def test_each_process_refuses_to_start_with_the_dev_secret(module: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    prefix = {"order_svc": "OMS_ORDER_", "inventory_svc": "OMS_INVENTORY_", "notify_svc": "OMS_NOTIFY_"}.get(module)
    if prefix:
        # Valid service settings, so the auth check is what stops it (before any connection).
        env |= {f"{prefix}DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none", f"{prefix}GRPC_PORT": "0"}
    done = subprocess.run(
        [sys.executable, "-m", module], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "OMS_AUTH_JWT_SECRET is the public development secret" in lines[0]
