"""The local trace viewer (Jaeger v2, tools/jaeger) as a child process on free loopback ports,
and a reader of its query API, for the tests that look at traces the way an operator does.

``scripts/tools jaeger`` builds the binary when it is missing or of another version (a few
minutes the first time on a fresh machine, nothing afterwards), then it runs with the same
tools/jaeger/config.yaml as ``make run``.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from testkit.processes import ROOT, free_port, stop_gracefully
from testkit.wait import eventually

BINARY = ROOT / ".oms" / "bin" / "jaeger"
CONFIG = ROOT / "tools" / "jaeger" / "config.yaml"
# The build's limit: about 8 CPU-minutes, more on a machine shared with other work.
BUILD_TIMEOUT_S = 1500.0


async def ensure_built() -> Path:
    process = await asyncio.create_subprocess_exec(str(ROOT / "scripts" / "tools"), "jaeger", cwd=ROOT)
    try:
        code = await asyncio.wait_for(process.wait(), BUILD_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"scripts/tools jaeger did not finish within {BUILD_TIMEOUT_S:g}s") from None
    assert code == 0, f"scripts/tools jaeger failed with {code}"
    return BINARY


@dataclass(frozen=True)
class ViewedSpan:
    """One span as Jaeger's query API shows it."""

    service: str
    span_id: str
    parent_span_id: str
    name: str
    kind: str  # "server", "client", "producer", "consumer", "internal"
    tags: dict[str, Any]


@dataclass
class JaegerProcess:
    log_path: Path
    ports: dict[str, int] = field(
        default_factory=lambda: {name: free_port() for name in ("ui", "query_grpc", "otlp_grpc", "otlp_http")}
    )
    process: asyncio.subprocess.Process | None = None

    @property
    def otlp_endpoint(self) -> str:
        """What OTEL_EXPORTER_OTLP_ENDPOINT takes (OTLP/gRPC)."""
        return f"http://127.0.0.1:{self.ports['otlp_grpc']}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['ui']}"

    async def start(self) -> None:
        binary = await ensure_built()
        env = os.environ | {
            "OMS_JAEGER_UI_PORT": str(self.ports["ui"]),
            "OMS_JAEGER_QUERY_GRPC_PORT": str(self.ports["query_grpc"]),
            "OMS_JAEGER_OTLP_GRPC_PORT": str(self.ports["otlp_grpc"]),
            "OMS_JAEGER_OTLP_HTTP_PORT": str(self.ports["otlp_http"]),
            "OMS_JAEGER_LOG_LEVEL": "info",
        }
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                str(binary), "--config", str(CONFIG), cwd=ROOT, env=env, stdout=log, stderr=log
            )
        async with httpx.AsyncClient(base_url=self.ui_url, timeout=2.0) as http:

            async def answers() -> bool:
                assert self.process is not None and self.process.returncode is None, self.log_tail()
                try:
                    return (await http.get("/api/services")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(answers, timeout_s=30, interval_s=0.2, what="Jaeger's query API")

    async def stop(self) -> None:
        await stop_gracefully(self.process)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def trace(self, http: httpx.AsyncClient, trace_id: str) -> list[ViewedSpan]:
        """The spans Jaeger holds for ``trace_id`` (none yet: an empty list)."""
        reply = await http.get(f"{self.ui_url}/api/traces/{trace_id}")
        if reply.status_code == 404:
            return []
        reply.raise_for_status()
        return [span for found in reply.json().get("data") or () for span in _spans(found)]


def _spans(found: dict[str, Any]) -> list[ViewedSpan]:
    services = {key: process["serviceName"] for key, process in (found.get("processes") or {}).items()}
    spans = []
    for span in found.get("spans") or ():
        tags = {tag["key"]: tag["value"] for tag in span.get("tags") or ()}
        parents = [ref["spanID"] for ref in span.get("references") or () if ref.get("refType") == "CHILD_OF"]
        spans.append(
            ViewedSpan(
                service=services.get(span.get("processID", ""), ""),
                span_id=span["spanID"],
                parent_span_id=parents[0] if parents else "",
                name=span["operationName"],
                kind=str(tags.get("span.kind", "internal")),
                tags=tags,
            )
        )
    return spans
