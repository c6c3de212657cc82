"""Running ghz (``.oms/bin/ghz``) against one target and reading its JSON report."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import cpu
from bench.system import ROOT

GHZ = ROOT / ".oms" / "bin" / "ghz"
PLACE_ORDER = "oms.order.v1.OrderService/PlaceOrder"


def build_protoset(out: Path) -> Path:
    """A self-contained descriptor set of the order API (imports included), built from proto/."""
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I",
            str(ROOT / "proto"),
            "-I",
            str(ROOT / "third_party" / "googleapis"),
            "--include_imports",
            f"--descriptor_set_out={out}",
            str(ROOT / "proto" / "oms" / "order" / "v1" / "order.proto"),
        ],
        check=True,
        cwd=ROOT,
    )
    return out


@dataclass(frozen=True)
class LoadShape:
    """The ghz parameters; every target of one benchmark gets the same."""

    concurrency: int = 16
    connections: int = 2
    duration_s: float = 15.0
    warmup_s: float = 3.0
    # ghz is a Go program sharing the 2 cores with the servers; one core keeps it from
    # starving them and keeps its share the same for every target.
    ghz_cpus: int = 1
    timeout_s: float = 10.0


@dataclass
class GhzResult:
    target: str
    count: int
    ok: int
    errors: int
    total_s: float
    rps_ok: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    fastest_ms: float
    slowest_ms: float
    average_ms: float
    status_codes: dict[str, int] = field(default_factory=dict)
    error_samples: dict[str, int] = field(default_factory=dict)
    cpu: cpu.Usage | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self) | {"cpu": self.cpu.as_dict() if self.cpu else None}


def parse_report(target: str, report: dict[str, Any]) -> GhzResult:
    """The figures we report from ghz's ``--format json`` output (durations are nanoseconds)."""
    codes = {str(k): int(v) for k, v in (report.get("statusCodeDistribution") or {}).items()}
    errors = {str(k): int(v) for k, v in (report.get("errorDistribution") or {}).items()}
    count = int(report.get("count") or 0)
    ok = codes.get("OK", 0)
    total_s = float(report.get("total") or 0) / 1e9
    percentiles = {
        int(entry["percentage"]): float(entry["latency"]) / 1e6 for entry in (report.get("latencyDistribution") or [])
    }

    def ns_to_ms(key: str) -> float:
        value = report.get(key)
        return float(value) / 1e6 if value is not None else math.nan

    return GhzResult(
        target=target,
        count=count,
        ok=ok,
        errors=count - ok,
        total_s=total_s,
        rps_ok=ok / total_s if total_s else math.nan,
        p50_ms=percentiles.get(50, math.nan),
        p95_ms=percentiles.get(95, math.nan),
        p99_ms=percentiles.get(99, math.nan),
        fastest_ms=ns_to_ms("fastest"),
        slowest_ms=ns_to_ms("slowest"),
        average_ms=ns_to_ms("average"),
        status_codes=codes,
        error_samples=dict(sorted(errors.items(), key=lambda kv: -kv[1])[:5]),
    )


def command(
    address: str, *, protoset: Path, data: dict[str, object], bearer: str, shape: LoadShape, duration_s: float
) -> list[str]:
    return [
        str(GHZ),
        "--insecure",
        f"--protoset={protoset}",
        f"--call={PLACE_ORDER}",
        f"--data={json.dumps(data)}",
        f"--metadata={json.dumps({'authorization': bearer})}",
        f"--concurrency={shape.concurrency}",
        f"--connections={shape.connections}",
        f"--duration={duration_s:g}s",
        # In-flight calls at the end are awaited, not reported as errors of a closed connection.
        "--duration-stop=wait",
        f"--timeout={shape.timeout_s:g}s",
        f"--cpus={shape.ghz_cpus}",
        "--format=json",
        address,
    ]


async def run(
    name: str,
    address: str,
    *,
    protoset: Path,
    data: dict[str, object],
    bearer: str,
    shape: LoadShape,
    out: Path,
    named: dict[int, str] | None = None,
) -> GhzResult:
    """A warm-up run (discarded), then the measured one; its raw JSON is kept in ``out``."""
    if shape.warmup_s > 0:
        warmup = command(address, protoset=protoset, data=data, bearer=bearer, shape=shape, duration_s=shape.warmup_s)
        await _ghz(warmup)
    before = cpu.snapshot(named or {})
    raw = await _ghz(
        command(address, protoset=protoset, data=data, bearer=bearer, shape=shape, duration_s=shape.duration_s)
    )
    after = cpu.snapshot(named or {})
    await asyncio.to_thread(out.write_bytes, raw)
    result = parse_report(name, json.loads(raw))
    result.cpu = cpu.usage(before, after)
    return result


async def _ghz(argv: list[str]) -> bytes:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"ghz exited with {process.returncode}: {stderr.decode(errors='replace')[-2000:]}")
    return stdout
