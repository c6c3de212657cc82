"""docker-compose.yml and the Dockerfile against the code they run.

Docker is not on the dev/CI machines, so nothing else would notice a misspelt ``OMS_*`` variable
(pydantic-settings ignores unknown variables: the service silently runs on its default), a port
that the healthcheck does not probe, or a package the image forgets to copy. Schema validity is
``make check-compose``'s job (also scaled: ``--scale order=3 --scale inventory=2``); this test
checks the file's content against the settings classes, and that the mesh's services can be
scaled: they publish no host port (the ``debug`` profile's forwarders do), the clients reach
every replica through ``dns:///`` targets and Prometheus discovers each one.
"""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML (pinned; via schemathesis) ships no stubs
from pydantic_settings import BaseSettings

from gateway.settings import GatewaySettings
from inventory_svc.settings import InventorySettings
from mesh.auth.settings import AuthSettings
from mesh.settings.common import KafkaSettings, RedisSettings
from mesh.storage.paging import PageTokenSettings
from notify_svc.settings import NotifySettings
from order_svc.settings import OrderSettings
from payment_svc.settings import PaymentSettings

ROOT = Path(__file__).resolve().parents[3]
SETTINGS: tuple[type[BaseSettings], ...] = (
    OrderSettings,
    InventorySettings,
    NotifySettings,
    PaymentSettings,
    GatewaySettings,
    KafkaSettings,
    RedisSettings,
    AuthSettings,
    PageTokenSettings,
)
# Read with os.environ by mesh.serving.entry, not through a settings class.
PLAIN_VARIABLES = {"OMS_LOG_FORMAT", "OMS_LOG_LEVEL"}
GRPC_SERVICES = {
    "order": OrderSettings,
    "inventory": InventorySettings,
    "notify": NotifySettings,
    "payment": PaymentSettings,
}


def _known_variables() -> set[str]:
    known = set(PLAIN_VARIABLES)
    for cls in SETTINGS:
        prefix = str(cls.model_config.get("env_prefix", ""))
        known |= {(prefix + name).upper() for name in cls.model_fields}
    return known


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def apps(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services built from our Dockerfile."""
    services = compose["services"]
    return {name: spec for name, spec in services.items() if "build" in spec}


def _published(spec: dict[str, Any]) -> dict[int, int]:
    """container port → host port, from short-syntax ``[ip:]host:container`` entries."""
    ports = {}
    for entry in spec.get("ports", []):
        *_, host, container = str(entry).split(":")
        ports[int(container)] = int(host)
    return ports


def test_the_mesh_services_are_all_there(apps: dict[str, dict[str, Any]]) -> None:
    assert {"order", "inventory", "notify", "gateway"} <= set(apps)


def test_every_long_running_service_is_restarted_when_it_dies(compose: dict[str, Any]) -> None:
    # One-shot jobs (the demo seed) run once; everything else comes back like under `make run`.
    for name, spec in compose["services"].items():
        if name == "seed":
            assert spec.get("restart") == "no"
            continue
        assert spec.get("restart") in {"unless-stopped", "always", "on-failure"}, name


def test_every_oms_variable_is_a_real_setting(apps: dict[str, dict[str, Any]]) -> None:
    known = _known_variables()
    for name, spec in apps.items():
        unknown = sorted(v for v in spec["environment"] if v.startswith("OMS_") and v not in known)
        assert not unknown, f"service {name}: no settings field reads {unknown}"


def test_every_command_runs_an_importable_module(apps: dict[str, dict[str, Any]]) -> None:
    for name, spec in apps.items():
        command = spec["command"]
        assert command[:2] == ["python", "-m"], f"service {name}: {command}"
        assert importlib.util.find_spec(command[2]) is not None, f"service {name}: no module {command[2]}"


def _ports(spec: dict[str, Any]) -> tuple[int, int]:
    """A gRPC service's (gRPC port, metrics port), from its environment."""
    env = spec["environment"]
    prefix = f"OMS_{spec['command'][2].removesuffix('_svc').upper()}_"
    return int(env[f"{prefix}GRPC_PORT"]), int(env[f"{prefix}METRICS_PORT"])


@pytest.mark.parametrize("service", sorted(GRPC_SERVICES))
def test_grpc_services_listen_and_probe_the_same_ports(
    service: str, apps: dict[str, dict[str, Any]], compose: dict[str, Any]
) -> None:
    spec = apps[service]
    env = spec["environment"]
    prefix = f"OMS_{service.upper()}_"
    grpc_port, _ = _ports(spec)
    # Inside a container 127.0.0.1 (the default) is unreachable from the other containers.
    assert env[f"{prefix}GRPC_HOST"] == "0.0.0.0"
    assert spec["healthcheck"]["test"][-1] == f"127.0.0.1:{grpc_port}"
    database = env[f"{prefix}DATABASE_URL"]
    assert database.startswith("postgresql+asyncpg://") and "@postgres:5432/" in database
    init_sql = (ROOT / "deploy" / "postgres" / "init.sql").read_text()
    assert f"CREATE DATABASE {database.rsplit('/', 1)[1]} " in init_sql


@pytest.mark.parametrize("service", sorted(GRPC_SERVICES))
def test_grpc_services_can_be_scaled(service: str, apps: dict[str, dict[str, Any]]) -> None:
    # `docker compose up --scale order=3`: a second replica could not bind a fixed host port, and
    # a container name is unique. The marker is what `make check-compose` scales.
    spec = apps[service]
    assert "ports" not in spec, f"service {service} publishes {spec['ports']}: use the debug profile's forwarder"
    assert "container_name" not in spec
    assert spec.get("x-oms-scalable") is True


def test_the_gateway_is_the_one_published_port_of_the_mesh(apps: dict[str, dict[str, Any]]) -> None:
    for name, spec in apps.items():
        if name != "gateway":
            assert "ports" not in spec, f"service {name} publishes {spec['ports']}"
    gateway = apps["gateway"]
    assert gateway["ports"] == [f"127.0.0.1:8080:{gateway['environment']['OMS_GATEWAY_PORT']}"]
    assert "x-oms-scalable" not in gateway


@pytest.mark.parametrize("service", sorted(GRPC_SERVICES))
def test_the_debug_profile_publishes_each_services_ports(
    service: str, apps: dict[str, dict[str, Any]], compose: dict[str, Any]
) -> None:
    grpc_port, metrics_port = _ports(apps[service])
    forwarder = compose["services"][f"{service}-debug"]
    assert forwarder["profiles"] == ["debug"]
    assert forwarder["environment"] == {"SERVICE": service, "GRPC_PORT": grpc_port, "METRICS_PORT": metrics_port}
    assert sorted(forwarder["ports"]) == sorted(f"127.0.0.1:{port}:{port}" for port in (grpc_port, metrics_port)), (
        "the host ports `make run` uses, on 127.0.0.1 only"
    )
    # What it runs forwards exactly those variables' ports to the service's name.
    script = forwarder["command"][0]
    for variable in ("SERVICE", "GRPC_PORT", "METRICS_PORT"):
        assert f"$${{{variable}}}" in script


def test_only_the_debug_profile_is_optional(compose: dict[str, Any]) -> None:
    # Everything else starts with a plain `docker compose up`.
    for name, spec in compose["services"].items():
        assert spec.get("profiles", []) == (["debug"] if name.endswith("-debug") else []), name


@pytest.mark.parametrize("service", sorted(GRPC_SERVICES))
def test_prometheus_scrapes_every_replica(service: str, apps: dict[str, dict[str, Any]]) -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    job = jobs[apps[service]["command"][2]]  # the job is named after the module: order_svc, …
    _, metrics_port = _ports(apps[service])
    # One A record per replica; a static target would be one of them, at random.
    assert "static_configs" not in job
    assert [(sd["names"], sd["type"], sd["port"]) for sd in job["dns_sd_configs"]] == [([service], "A", metrics_port)]


def test_addresses_between_services_match_their_ports(apps: dict[str, dict[str, Any]]) -> None:
    def grpc_address(service: str) -> str:
        # dns:///: every replica the name resolves to, balanced round robin.
        return f"dns:///{service}:{apps[service]['environment'][f'OMS_{service.upper()}_GRPC_PORT']}"

    gateway = apps["gateway"]["environment"]
    for service in GRPC_SERVICES:
        assert gateway[f"OMS_GATEWAY_{service.upper()}_ADDR"] == grpc_address(service)
    assert apps["order"]["environment"]["OMS_ORDER_INVENTORY_ADDR"] == grpc_address("inventory")
    assert gateway["OMS_GATEWAY_HOST"] == "0.0.0.0"
    assert int(gateway["OMS_GATEWAY_PORT"]) in _published(apps["gateway"])


def test_every_dependency_waited_for_as_healthy_has_a_healthcheck(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, spec in services.items():
        for dependency, condition in (spec.get("depends_on") or {}).items():
            if condition.get("condition") == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits for {dependency} to be healthy"


def test_the_image_contains_every_package_of_the_project() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = sorted({p.rstrip("*") for p in patterns})
    dockerfile = (ROOT / "Dockerfile").read_text()
    dockerignore = (ROOT / ".dockerignore").read_text().splitlines()
    for package in packages:
        assert re.search(rf"^COPY {package}/ {package}/$", dockerfile, re.M), f"Dockerfile does not copy {package}/"
        assert f"!{package}/" in dockerignore, f".dockerignore keeps {package}/ out of the build context"
