"""deploy/k8s: the rendered manifests pass deploy/k8s/check.py, and the check catches what it must."""

from __future__ import annotations

import copy
import importlib.util
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
KUSTOMIZE = ROOT / ".oms" / "bin" / "kustomize"
Manifests = list[dict[str, Any]]


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("k8s_check", ROOT / "deploy" / "k8s" / "check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _checker()


def _render(kustomization: str) -> Manifests:
    assert KUSTOMIZE.exists(), "kustomize is missing: run scripts/check-k8s (make check builds it)"
    command = [str(KUSTOMIZE), "build", str(ROOT / "deploy" / "k8s" / kustomization)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return [m for m in yaml.safe_load_all(out) if m]


@pytest.fixture(scope="module")
def dev() -> Manifests:
    return _render("overlays/dev")


@pytest.mark.parametrize("kustomization", ["base", "overlays/dev"])
def test_every_kustomization_renders_and_passes(kustomization: str) -> None:
    assert list(check.problems(_render(kustomization))) == []


def test_every_service_has_its_deployment_headless_service_budget_and_autoscaler(dev: Manifests) -> None:
    names = {(m["kind"], m["metadata"]["name"]) for m in dev}
    for service in ("order", "inventory", "notify"):
        for kind in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
            assert (kind, service) in names
    assert ("Job", "oms-migrate") in names
    assert {m["spec"]["topicName"] for m in dev if m["kind"] == "KafkaTopic"} >= {"orders", "inventory", "payments"}


def _one(manifests: Manifests, kind: str, name: str | None = "order") -> dict[str, Any]:
    return next(m for m in manifests if m["kind"] == kind and name in (None, m["metadata"]["name"]))


def _container(manifests: Manifests) -> dict[str, Any]:
    container: dict[str, Any] = _one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    return container


def test_an_unknown_field_is_refused_by_the_schema(dev: Manifests) -> None:
    broken = copy.deepcopy(dev)
    _container(broken)["readinessProb"] = {}
    deployment = _one(broken, "Deployment")
    assert any("readinessProb" in problem for problem in check.schema_problems(deployment))


def _no_liveness(m: Manifests) -> None:
    _container(m).pop("livenessProbe")


def _tcp_readiness(m: Manifests) -> None:
    _container(m)["readinessProbe"] = {"tcpSocket": {"port": 50051}}


def _no_limits(m: Manifests) -> None:
    _container(m)["resources"].pop("limits")


def _plain_secret(m: Manifests) -> None:
    _container(m)["env"].append({"name": "OMS_AUTH_JWT_SECRET", "value": "x" * 40})


def _cluster_ip(m: Manifests) -> None:
    _one(m, "Service")["spec"].pop("clusterIP")


def _no_budget(m: Manifests) -> None:
    m.remove(_one(m, "PodDisruptionBudget"))


def _single_replica_topic(m: Manifests) -> None:
    _one(m, "KafkaTopic", None)["spec"]["replicas"] = 1


@pytest.mark.parametrize(
    ("breakage", "complaint"),
    [
        (_no_liveness, "no livenessProbe"),
        (_tcp_readiness, "native gRPC probe"),
        (_no_limits, "memory limit"),
        (_plain_secret, "plain value"),
        (_cluster_ip, "headless"),
        (_no_budget, "PodDisruptionBudget"),
        (_single_replica_topic, "replicas 3"),
    ],
)
def test_the_mesh_rules_catch_a_broken_manifest(
    dev: Manifests, breakage: Callable[[Manifests], None], complaint: str
) -> None:
    broken = copy.deepcopy(dev)
    breakage(broken)
    found = list(check.rule_problems(broken))
    assert any(complaint in problem for problem in found), found
