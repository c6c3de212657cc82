"""Checks rendered Kubernetes manifests (``kustomize build`` output on stdin), offline.

1. Every object against the Kubernetes API's own schemas (kubernetes-validate, strict: unknown
   fields are errors), for the oldest version we support. Custom resources (Strimzi's Kafka,
   KafkaNodePool, KafkaTopic) have no schema there and are checked by rule 2 only.
2. The mesh's rules for running on Kubernetes, which no schema knows:
   - every Deployment's containers have readiness and liveness probes, CPU and memory requests
     and a memory limit, and run as non-root;
   - every Deployment has a PodDisruptionBudget and a HorizontalPodAutoscaler that select it;
   - a gRPC service's probes are native gRPC probes, and its Service is headless (clusterIP
     None), so clients balance per call over the pods instead of per connection;
   - every Secret a container reads is named oms-secrets, and no plain env value looks like one;
   - KafkaTopics keep 3 replicas with min.insync.replicas 2.

Usage: kustomize build deploy/k8s/overlays/dev | python deploy/k8s/check.py dev
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import kubernetes_validate
import yaml

KUBERNETES_VERSION = "1.30.0"
CUSTOM_GROUPS = ("kafka.strimzi.io/",)
SECRET_NAME = "oms-secrets"
SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN_KEY", "DATABASE_URL")

Manifest = dict[str, Any]


def problems(manifests: Iterable[Manifest]) -> Iterator[str]:
    """Every broken rule, one sentence each; nothing when the manifests are fine."""
    objects = [m for m in manifests if m]
    for manifest in objects:
        yield from schema_problems(manifest)
    yield from rule_problems(objects)


def rule_problems(objects: list[Manifest]) -> Iterator[str]:
    """The mesh's own rules (2. above) over every object of one rendering."""
    by_kind: dict[str, list[Manifest]] = {}
    for manifest in objects:
        by_kind.setdefault(manifest["kind"], []).append(manifest)
    for deployment in by_kind.get("Deployment", []):
        yield from _deployment_problems(deployment, by_kind)
    for topic in by_kind.get("KafkaTopic", []):
        spec = topic.get("spec", {})
        if spec.get("replicas") != 3 or str(spec.get("config", {}).get("min.insync.replicas")) != "2":
            yield f"KafkaTopic {_name(topic)}: needs replicas 3 and min.insync.replicas 2"


def _name(manifest: Manifest) -> str:
    return str(manifest.get("metadata", {}).get("name", "?"))


def schema_problems(manifest: Manifest) -> Iterator[str]:
    if str(manifest.get("apiVersion", "")).startswith(CUSTOM_GROUPS):
        return
    try:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(part) for part in exc.path)
        yield f"{manifest.get('kind')} {_name(manifest)}: {path}: {exc.message}"
    except kubernetes_validate.SchemaNotFoundError:
        api = manifest.get("apiVersion")
        yield f"{manifest.get('kind')} {_name(manifest)}: no schema for {api} in Kubernetes {KUBERNETES_VERSION}"


def _selects(selector: Manifest, labels: Manifest) -> bool:
    wanted = selector.get("matchLabels", {})
    return bool(wanted) and all(labels.get(key) == value for key, value in wanted.items())


def _deployment_problems(deployment: Manifest, by_kind: dict[str, list[Manifest]]) -> Iterator[str]:
    name = _name(deployment)
    pod = deployment["spec"]["template"]
    labels = pod["metadata"].get("labels", {})
    if not any(_selects(pdb["spec"].get("selector", {}), labels) for pdb in by_kind.get("PodDisruptionBudget", [])):
        yield f"Deployment {name}: no PodDisruptionBudget selects it"
    targets = {hpa["spec"]["scaleTargetRef"].get("name") for hpa in by_kind.get("HorizontalPodAutoscaler", [])}
    if name not in targets:
        yield f"Deployment {name}: no HorizontalPodAutoscaler scales it"
    security = pod["spec"].get("securityContext", {})
    for container in pod["spec"]["containers"]:
        where = f"Deployment {name} container {container['name']}"
        for probe in ("readinessProbe", "livenessProbe"):
            if probe not in container:
                yield f"{where}: no {probe}"
        resources = container.get("resources", {})
        if not {"cpu", "memory"} <= set(resources.get("requests", {})) or "memory" not in resources.get("limits", {}):
            yield f"{where}: needs cpu and memory requests and a memory limit"
        if not (security.get("runAsNonRoot") or container.get("securityContext", {}).get("runAsNonRoot")):
            yield f"{where}: must run as non-root"
        yield from _env_problems(where, container.get("env", []))
        ports = {port.get("name") for port in container.get("ports", [])}
        if "grpc" in ports:
            yield from _grpc_problems(where, container, labels, by_kind.get("Service", []))


def _is_mesh_secret(name: str) -> bool:
    # kustomize's secretGenerator appends a hash of the content: oms-secrets-<10 characters>.
    return name == SECRET_NAME or re.fullmatch(rf"{SECRET_NAME}-[a-z0-9]{{10}}", name) is not None


def _env_problems(where: str, env: list[Manifest]) -> Iterator[str]:
    for variable in env:
        secret = variable.get("valueFrom", {}).get("secretKeyRef")
        if secret is not None and not _is_mesh_secret(str(secret.get("name", ""))):
            yield f"{where}: {variable['name']} reads Secret {secret.get('name')}, not {SECRET_NAME}"
        if "value" in variable and any(word in variable["name"] for word in SECRET_WORDS):
            yield f"{where}: {variable['name']} is a secret given as a plain value; read it from {SECRET_NAME}"


def _grpc_problems(where: str, container: Manifest, labels: Manifest, services: list[Manifest]) -> Iterator[str]:
    for probe in ("readinessProbe", "livenessProbe"):
        if "grpc" not in container.get(probe, {}):
            yield f"{where}: {probe} must be a native gRPC probe (grpc.health.v1)"
    selecting = [
        s for s in services if s["spec"].get("selector") and _selects({"matchLabels": s["spec"]["selector"]}, labels)
    ]
    if not selecting:
        yield f"{where}: no Service selects its pods"
    for service in selecting:
        if service["spec"].get("clusterIP") != "None":
            yield f"{where}: Service {_name(service)} must be headless (clusterIP: None) for per-call balancing"


def main() -> int:
    label = sys.argv[1] if len(sys.argv) > 1 else "manifests"
    manifests = list(yaml.safe_load_all(sys.stdin))
    found = list(problems(manifests))
    for problem in found:
        sys.stderr.write(f"check-k8s {label}: {problem}\n")
    if not found:
        kinds = sorted({m["kind"] for m in manifests if m})
        sys.stdout.write(f"check-k8s {label}: {len(manifests)} objects valid ({', '.join(kinds)})\n")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
