"""The HTTP gateway against direct gRPC: ``GET /orders/{id}`` and ``POST /orders``.

The same calls, in the same run, on the same mesh: over HTTP/JSON through ``python -m gateway``
with wrk (Debian package ``wrk``; a Lua script sets the method, the JSON body and the bearer
token, and prints wrk's own summary as JSON), and straight to the order service over gRPC with
ghz. Both tools are closed-loop with the same number of requests in flight, the same warm-up
and the same duration, and each gets one CPU. The order service runs without its outbox relay,
so no saga work from an earlier run competes with a later one (PlaceOrder itself, with its
stock pre-check, is unchanged); notify is not started (the gateway's /healthz is not used).
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bench import cpu, ghz
from bench.report import num, ratio, table, verdict
from bench.system import HUGE_STOCK, RunningMesh, running_mesh, workdir
from testkit.infra import Infra
from testkit.processes import GatewayProcess, free_port

TARGET_RATIO = 0.5
TARGET_ADDED_P50_MS = 2.0
GET_ORDER = "oms.order.v1.OrderService/GetOrder"


@dataclass(frozen=True)
class Shape:
    in_flight: int = 16
    duration_s: float = 10.0
    warmup_s: float = 2.0
    timeout_s: float = 10.0
    # Runs per path, alternating in ABBA order; duration_s is per path, split evenly over them.
    runs_per_path: int = 2


@dataclass
class Run:
    """One measured run of one tool against one target."""

    target: str
    ok: int
    errors: int
    duration_s: float
    rps_ok: float
    p50_ms: float
    p99_ms: float
    error_detail: dict[str, int] = field(default_factory=dict)
    cpu: cpu.Usage | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self) | {"cpu": self.cpu.as_dict() if self.cpu else None}


def combined(runs: list[Run]) -> Run:
    """Several runs of one tool against one target as one: counts summed, percentiles averaged.

    The halves of an ABBA sequence have nearly equal sizes, so the mean of their p50s is close
    to the p50 of the pooled latencies (the tools report percentiles, not the samples).
    """
    first = runs[0]
    duration = sum(r.duration_s for r in runs)
    ok = sum(r.ok for r in runs)
    errors: dict[str, int] = {}
    for r in runs:
        for key, count in r.error_detail.items():
            errors[key] = errors.get(key, 0) + count
    usages = [r.cpu for r in runs if r.cpu is not None]
    usage = None
    if usages:
        groups = {g for u in usages for g in u.seconds}
        available = sum(u.available_s for u in usages)
        usage = cpu.Usage(
            {g: sum(u.seconds.get(g, 0.0) for u in usages) for g in groups},
            sum(u.machine_busy_share * u.available_s for u in usages) / available if available else 0.0,
            available,
        )
    return Run(
        target=first.target,
        ok=ok,
        errors=sum(r.errors for r in runs),
        duration_s=duration,
        rps_ok=ok / duration if duration else 0.0,
        p50_ms=sum(r.p50_ms for r in runs) / len(runs),
        p99_ms=sum(r.p99_ms for r in runs) / len(runs),
        error_detail=errors,
        cpu=usage,
    )


@dataclass
class Pair:
    call: str
    gateway: Run
    grpc: Run
    in_flight: int = 16

    @property
    def ratio(self) -> float:
        return ratio(self.gateway.rps_ok, self.grpc.rps_ok)

    @property
    def added_p50_ms(self) -> float:
        return self.gateway.p50_ms - self.grpc.p50_ms

    def as_dict(self) -> dict[str, object]:
        return {
            "call": self.call,
            "in_flight": self.in_flight,
            "gateway": self.gateway.as_dict(),
            "grpc": self.grpc.as_dict(),
            "ratio": self.ratio,
            "added_p50_ms": self.added_p50_ms,
        }


# Throughput with requests queueing, then the gateway's own latency with nothing queued. Each
# path's time is split over runs alternating in ABBA order (gateway, direct, direct, gateway,
# …): the mesh drifts and stalls while it runs (tables grow, autovacuum, garbage collection;
# PlaceOrder's p50 at one in flight moved between 11 and 14 ms from one 5 s run to the next
# here), and one long run per path charged whatever happened during it to that path alone.
LOADED = Shape()
ONE_IN_FLIGHT = Shape(in_flight=1, duration_s=8.0, warmup_s=1.0, runs_per_path=8)
ABBA = ("gateway", "direct", "direct", "gateway")


@dataclass
class GatewayResult:
    shape: Shape
    pairs: list[Pair]
    latency_shape: Shape = ONE_IN_FLIGHT
    latency_pairs: list[Pair] = field(default_factory=list)

    def added_p50_unloaded(self, call: str) -> float:
        return next((p.added_p50_ms for p in self.latency_pairs if p.call == call), math.nan)

    def met(self, pair: Pair) -> bool:
        """Throughput from the loaded run; added p50 from the unloaded one (no queueing in it)."""
        clean = pair.gateway.errors == 0 and pair.grpc.errors == 0
        return clean and pair.ratio >= TARGET_RATIO and self.added_p50_unloaded(pair.call) <= TARGET_ADDED_P50_MS

    def as_dict(self) -> dict[str, Any]:
        return {
            "shape": asdict(self.shape),
            "latency_shape": asdict(self.latency_shape),
            "pairs": [p.as_dict() | {"met": self.met(p)} for p in self.pairs],
            "latency_pairs": [p.as_dict() for p in self.latency_pairs],
            "target_ratio": TARGET_RATIO,
            "target_added_p50_ms": TARGET_ADDED_P50_MS,
        }


# wrk's Lua API: request() builds every request from wrk.method/body/headers; done() gets the
# summary and the latency histogram (microseconds) once the run ends.
WRK_SCRIPT = """
wrk.method = {method}
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = {authorization}

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nWRK_JSON {{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
    .. '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal for this text


async def _exec(argv: list[str]) -> str:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited with {process.returncode}: {stderr.decode(errors='replace')[-2000:]}")
    return stdout.decode(errors="replace")


def parse_wrk(target: str, output: str) -> Run:
    line = next((x for x in output.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{output[-2000:]}")
    report = json.loads(line[len("WRK_JSON ") :])
    detail = {k: int(report[k]) for k in ("connect", "read", "write", "status", "timeout") if report[k]}
    # A non-2xx answer is counted in requests and in errors.status; connection errors only in errors.
    errors = int(report["status"]) + int(report["timeout"]) + int(report["read"]) + int(report["write"])
    ok = max(0, int(report["requests"]) - int(report["status"]))
    duration_s = int(report["duration_us"]) / 1e6
    return Run(
        target=target,
        ok=ok,
        errors=errors + int(report["connect"]),
        duration_s=duration_s,
        rps_ok=ok / duration_s if duration_s else math.nan,
        p50_ms=int(report["p50_us"]) / 1000,
        p99_ms=int(report["p99_us"]) / 1000,
        error_detail=detail,
    )


async def wrk(
    target: str, url: str, *, method: str, body: str, bearer: str, shape: Shape, script: Path, named: dict[int, str]
) -> Run:
    lua = WRK_SCRIPT.format(method=_lua_string(method), body=_lua_string(body), authorization=_lua_string(bearer))
    await asyncio.to_thread(script.write_text, lua)

    def argv(duration_s: float) -> list[str]:
        return [
            "wrk",
            "--threads",
            "1",
            "--connections",
            str(shape.in_flight),
            "--duration",
            f"{max(1, round(duration_s))}s",
            "--timeout",
            f"{shape.timeout_s:g}s",
            "--script",
            str(script),
            url,
        ]

    if shape.warmup_s:
        await _exec(argv(shape.warmup_s))
    before = cpu.snapshot(named)
    output = await _exec(argv(shape.duration_s))
    run = parse_wrk(target, output)
    run.cpu = cpu.usage(before, cpu.snapshot(named))
    return run


async def ghz_run(
    target: str,
    address: str,
    *,
    call: str,
    data: dict[str, object],
    bearer: str,
    shape: Shape,
    protoset: Path,
    out: Path,
    named: dict[int, str],
) -> Run:
    def argv(duration_s: float) -> list[str]:
        return [
            str(ghz.GHZ),
            "--insecure",
            f"--protoset={protoset}",
            f"--call={call}",
            f"--data={json.dumps(data)}",
            f"--metadata={json.dumps({'authorization': bearer})}",
            f"--concurrency={shape.in_flight}",
            "--connections=1",
            f"--duration={duration_s:g}s",
            "--duration-stop=wait",
            f"--timeout={shape.timeout_s:g}s",
            "--cpus=1",
            "--format=json",
            address,
        ]

    if shape.warmup_s:
        await _exec(argv(shape.warmup_s))
    before = cpu.snapshot(named)
    raw = await _exec(argv(shape.duration_s))
    after = cpu.snapshot(named)
    await asyncio.to_thread(out.write_text, raw)
    report = ghz.parse_report(target, json.loads(raw))
    return Run(
        target=target,
        ok=report.ok,
        errors=report.errors,
        duration_s=report.total_s,
        rps_ok=report.rps_ok,
        p50_ms=report.p50_ms,
        p99_ms=report.p99_ms,
        error_detail=report.error_samples,
        cpu=cpu.usage(before, after),
    )


async def run(infra: Infra) -> GatewayResult:
    if shutil.which("wrk") is None:
        raise SystemExit("bench gateway needs wrk (the HTTP load tool): `make bench` installs it (scripts/apt-install)")
    folder = workdir("gateway")
    protoset = ghz.build_protoset(folder / "order.protoset")
    async with running_mesh(infra, folder, order_env={"OMS_ORDER_RUN_RELAY": "false"}) as system:
        gateway = await start_gateway(system, folder)
        try:
            named = system.pids() | ({gateway.process.pid: "gateway"} if gateway.process else {})
            product = await system.clients.product(stock=HUGE_STOCK, name="Bench widget")
            customer = await system.clients.customer()
            order = await system.clients.place(customer, [(product, 1)])
            place = {"customer_id": customer, "items": [{"product_id": product, "quantity": 1}]}
            place_json = json.dumps({"customerId": customer, "items": [{"productId": product, "quantity": 1}]})
            calls = (
                ("GET /orders/{id}", "GET", f"/orders/{order.order_id}", "", GET_ORDER, {"order_id": order.order_id}),
                ("POST /orders", "POST", "/orders", place_json, ghz.PLACE_ORDER, place),
            )
            passes: dict[int, list[Pair]] = {}
            for shape in (LOADED, ONE_IN_FLIGHT):
                common: dict[str, Any] = {"bearer": system.bearer(), "shape": shape, "named": named}
                for call, method, path, body, grpc_call, data in calls:
                    slug = f"{method.lower()}-{shape.in_flight}"
                    sequence = [ABBA[i % len(ABBA)] for i in range(2 * shape.runs_per_path)]
                    part = replace(shape, duration_s=shape.duration_s / shape.runs_per_path)
                    runs: dict[str, list[Run]] = {"gateway": [], "direct": []}
                    for index, path_kind in enumerate(sequence):
                        # One warm-up per path; the later runs follow the other path's, warm.
                        half = part if index < 2 else replace(part, warmup_s=0.0)
                        print(f"gateway bench: {call}, {shape.in_flight} in flight, {path_kind} …", file=sys.stderr)
                        if path_kind == "gateway":
                            run_ = await wrk(
                                "gateway (wrk)",
                                gateway.base_url + path,
                                method=method,
                                body=body,
                                script=folder / f"{slug}.lua",
                                **(common | {"shape": half}),
                            )
                        else:
                            run_ = await ghz_run(
                                "direct gRPC (ghz)",
                                system.order_address,
                                call=grpc_call,
                                data=data,
                                protoset=protoset,
                                out=folder / f"ghz-{slug}-{index}.json",
                                **(common | {"shape": half}),
                            )
                        runs[path_kind].append(run_)
                    over_http, direct = combined(runs["gateway"]), combined(runs["direct"])
                    passes.setdefault(shape.in_flight, []).append(Pair(call, over_http, direct, shape.in_flight))
        finally:
            await gateway.stop()
    result = GatewayResult(LOADED, passes[LOADED.in_flight], ONE_IN_FLIGHT, passes[ONE_IN_FLIGHT.in_flight])
    await asyncio.to_thread((folder / "result.json").write_text, json.dumps(result.as_dict(), indent=2, default=str))
    return result


async def start_gateway(system: RunningMesh, folder: Path) -> GatewayProcess:
    port = free_port()
    env = system.mesh.base_env() | {
        "OMS_GATEWAY_PORT": str(port),
        "OMS_GATEWAY_ORDER_ADDR": system.order_address,
        "OMS_GATEWAY_INVENTORY_ADDR": system.inventory_address,
        # Not started: nothing here calls it, and /healthz is not the readiness check.
        "OMS_GATEWAY_NOTIFY_ADDR": f"127.0.0.1:{free_port()}",
        "OMS_GATEWAY_LOG_LEVEL": "warning",
    }
    gateway = GatewayProcess(port, env, folder / "gateway.log", ready_path="/openapi.json")
    await gateway.start()
    return gateway


def markdown(result: GatewayResult, *, when: str) -> str:
    shape, quiet = result.shape, result.latency_shape
    rows = []
    for pair in [*result.pairs, *result.latency_pairs]:
        for r in (pair.gateway, pair.grpc):
            figures = [num(r.rps_ok), num(r.p50_ms, 2), num(r.p99_ms, 2), f"{r.ok:,}", f"{r.errors:,}"]
            rows.append([pair.call, pair.in_flight, r.target, *figures])
    verdicts = table(
        [
            "call",
            f"gateway/gRPC RPS ({shape.in_flight} in flight)",
            f"added p50 ms ({shape.in_flight} in flight)",
            f"added p50 ms ({quiet.in_flight} in flight)",
            "targets",
        ],
        [
            [
                p.call,
                num(p.ratio, 3),
                num(p.added_p50_ms, 2),
                num(result.added_p50_unloaded(p.call), 2),
                verdict(result.met(p)),
            ]
            for p in result.pairs
        ],
    )
    lines = [
        "## HTTP gateway vs direct gRPC (wrk, ghz)",
        "",
        f"Run {when}. Each call through `python -m gateway` with [wrk](https://github.com/wg/wrk) (Debian "
        "package `wrk`, installed by `make bench` through `scripts/apt-install`; `--threads 1`, "
        "a Lua script sets method, JSON body and bearer token) and straight to order_svc with ghz "
        "(`--connections 1 --cpus 1`), same mesh, same run (inventory + orders; the order outbox relay is off "
        "so no saga work from one run leaks into the next). Both tools are closed-loop with the same number of "
        f"requests in flight: {shape.in_flight} (wrk connections, ghz concurrency) for {shape.duration_s:g} s, "
        f"then {quiet.in_flight} in flight for {quiet.duration_s:g} s, where nothing queues and the added p50 is "
        "the gateway's own cost. Each path's time is split over runs in ABBA order (gateway, direct, direct, "
        f"gateway, …: {shape.runs_per_path} runs per path under load, {quiet.runs_per_path} with one in flight; "
        f"a discarded warm-up of {shape.warmup_s:g} s, {quiet.warmup_s:g} s with one in flight, before each path's "
        "first run) so that the mesh's drift and stalls during the run (growing tables, autovacuum, garbage "
        "collection) are charged to both paths alike; a row sums its runs' calls and averages their percentiles. "
        "`GET /orders/{id}` reads one order (the "
        "order cache serves it); `POST /orders` places an order (stock pre-check on).",
        "",
        table(["call", "in flight", "path", "RPS (OK)", "p50 ms", "p99 ms", "OK", "errors"], rows),
        "",
        f"Targets (issue #5): gateway throughput ≥ {TARGET_RATIO} of direct gRPC (loaded run) and added p50 "
        f"≤ {TARGET_ADDED_P50_MS:g} ms (judged on the {quiet.in_flight}-in-flight run; under load the added p50 "
        "also holds the queueing behind a saturated CPU, shown for completeness), no errors:",
        "",
        verdicts,
        "",
        *cpu_lines(result),
    ]
    for pair in [*result.pairs, *result.latency_pairs]:
        for r in (pair.gateway, pair.grpc):
            if r.errors:
                lines += ["", f"Errors of {pair.call} via {r.target}: {json.dumps(r.error_detail)}"]
    return "\n".join(lines)


def cpu_lines(result: GatewayResult) -> list[str]:
    runs = [
        (f"{p.call} via {r.target.split()[0]}, {p.in_flight} in flight", r)
        for p in [*result.pairs, *result.latency_pairs]
        for r in (p.gateway, p.grpc)
    ]
    groups: list[str] = []
    for _, r in runs:
        groups += [g for g in (r.cpu.seconds if r.cpu else {}) if g not in groups]
    if not groups:
        return []
    rows = [[label, *[num(r.cpu.seconds.get(g, 0.0), 1) if r.cpu else "n/a" for g in groups]] for label, r in runs]
    return [
        "CPU seconds per process group during each measured run (from /proc; 2 cores, so a run has twice its "
        "length in CPU-seconds; wrk counts under other processes):",
        "",
        table(["run", *groups], rows),
    ]
