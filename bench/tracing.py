"""What tracing costs PlaceOrder: ghz against order_svc with tracing off, then on, in one run.

*Off*: ``OTEL_SDK_DISABLED=true`` in inventory_svc and order_svc (no tracer provider; W3C
context is still propagated). *On*: ``OTEL_TRACES_SAMPLER=always_on``, every span exported by
OTLP/gRPC to a receiver this process runs on 127.0.0.1 (it counts the spans and drops them, the
cheapest collector there is, so the figure is the services' own cost). *On, not exported*
(``OTEL_TRACES_EXPORTER=none``) splits the cost between making spans and exporting them. Each
variant gets a fresh mesh (databases, topics) and the placeorder benchmark's ghz parameters and
request; ``rounds`` repeats the off/on pair, alternating, and the ratios use the summed calls.

Two throughputs per run. *PlaceOrder RPS* is what ghz sees. On these 2 saturated cores it
swings by ±20 % between identical runs, because placements can run ahead of the saga they
start: whatever CPU the consumers do not take that run goes to more placements, and the
backlog is left behind. *Placed and confirmed per second* counts the same orders over the time
until the last of them left PENDING (the warm-up's orders are settled first), with the CPU of
that whole window: the rate the mesh can sustain, which every span of the saga costs too. The
target is judged on it, and both ratios are reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import asyncpg
import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from bench import cpu, ghz, machine
from bench.report import num, ratio, table, verdict
from bench.system import HUGE_STOCK, running_mesh, workdir
from mesh.storage.engine import asyncpg_dsn
from testkit.infra import Infra

# Issue #7: tracing on may cost at most 15 % of PlaceOrder throughput.
TARGET_RATIO = 0.85


class _CountingReceiver(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.spans = 0

    async def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.aio.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self.spans += sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
        return trace_service_pb2.ExportTraceServiceResponse()


@contextlib.asynccontextmanager
async def otlp_receiver() -> AsyncIterator[tuple[str, _CountingReceiver]]:
    """An OTLP/gRPC trace receiver on a free port; yields its endpoint URL and the counter."""
    receiver = _CountingReceiver()
    server = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(receiver, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"http://127.0.0.1:{port}", receiver
    finally:
        await server.stop(grace=None)


OFF, UNEXPORTED, ON = "off", "on, not exported", "on"
LABELS = {
    OFF: "tracing off (OTEL_SDK_DISABLED=true)",
    UNEXPORTED: "tracing on, not exported (OTEL_TRACES_EXPORTER=none)",
    ON: "tracing on (always_on, OTLP/gRPC)",
}


@dataclass
class Round:
    """One ghz run, and the time until every order it placed had settled."""

    ghz: ghz.GhzResult
    settled_s: float  # from the measured run's start until no order was PENDING
    cpu: cpu.Usage  # over that whole window

    @property
    def settled_rate(self) -> float:
        return self.ghz.ok / self.settled_s if self.settled_s else float("nan")

    def services_cpu_ms_per_order(self) -> float:
        seconds = sum(v for k, v in self.cpu.seconds.items() if k in ("order_svc", "inventory_svc"))
        return 1000 * seconds / self.ghz.ok if self.ghz.ok else float("nan")

    def as_dict(self) -> dict[str, object]:
        return {"ghz": self.ghz.as_dict(), "settled_s": self.settled_s, "cpu": self.cpu.as_dict()}


@dataclass
class TracingResult:
    shape: ghz.LoadShape
    runs: dict[str, list[Round]]
    spans_exported: int
    code: str

    def rps(self, variant: str) -> float:
        """PlaceOrder calls per second as ghz saw them, over every round."""
        results = [r.ghz for r in self.runs[variant]]
        seconds = sum(r.total_s for r in results)
        return sum(r.ok for r in results) / seconds if seconds else float("nan")

    def settled_rate(self, variant: str) -> float:
        """Orders placed and out of PENDING per second, over every round."""
        rounds = self.runs[variant]
        seconds = sum(r.settled_s for r in rounds)
        return sum(r.ghz.ok for r in rounds) / seconds if seconds else float("nan")

    @property
    def ratio(self) -> float:
        return ratio(self.settled_rate(ON), self.settled_rate(OFF))

    @property
    def rps_ratio(self) -> float:
        return ratio(self.rps(ON), self.rps(OFF))

    def round_ratios(self) -> list[float]:
        """on/off of each round alone: their spread shows how much one pair of runs can be trusted."""
        return [ratio(on.settled_rate, off.settled_rate) for on, off in zip(self.runs[ON], self.runs[OFF], strict=True)]

    @property
    def met(self) -> bool:
        errors = sum(r.ghz.errors for rounds in self.runs.values() for r in rounds)
        return self.ratio >= TARGET_RATIO and errors == 0

    def as_dict(self) -> dict[str, object]:
        return {
            "shape": self.shape.__dict__,
            "runs": {k: [r.as_dict() for r in v] for k, v in self.runs.items()},
            "spans_exported": self.spans_exported,
            "code": self.code,
            "ratio": self.ratio,
            "rps_ratio": self.rps_ratio,
            "target_ratio": TARGET_RATIO,
            "met": self.met,
        }


def markdown(result: TracingResult, *, when: str) -> str:
    shape = result.shape
    rows = []
    for variant, rounds in result.runs.items():
        for number, r in enumerate(rounds, 1):
            rows.append(
                [
                    f"{LABELS[variant]}, round {number}",
                    num(r.ghz.rps_ok),
                    num(r.ghz.p50_ms, 2),
                    num(r.ghz.p99_ms, 2),
                    f"{r.ghz.ok:,}",
                    f"{r.ghz.errors:,}",
                    num(r.settled_s, 1),
                    num(r.settled_rate),
                    num(r.services_cpu_ms_per_order(), 2),
                ]
            )
    on_calls = sum(r.ghz.count for r in result.runs[ON])
    spans_per_order = result.spans_exported / on_calls if on_calls else float("nan")
    return "\n".join(
        [
            "## Tracing overhead on PlaceOrder (ghz)",
            "",
            f"Run {when}, code {result.code}. The placeorder benchmark's ghz parameters (`--concurrency "
            f"{shape.concurrency} --connections {shape.connections} --duration {shape.duration_s:g}s --cpus "
            f"{shape.ghz_cpus}`, after a {shape.warmup_s:g}s warm-up whose orders are settled first) against "
            "order_svc, each variant on a fresh mesh, variants alternating. Exported: every span sampled and sent "
            f"by OTLP/gRPC to a counting receiver on 127.0.0.1 ({result.spans_exported:,} spans received, "
            f"{num(spans_per_order, 1)} per PlaceOrder call, the saga's included). *Settled s*: from the start of "
            "the measured run until none of its orders was PENDING; *placed and confirmed/s* = OK calls / settled s; "
            "CPU per order is over that same window.",
            "",
            table(
                [
                    "variant",
                    "PlaceOrder RPS",
                    "p50 ms",
                    "p99 ms",
                    "OK calls",
                    "errors",
                    "settled s",
                    "placed and confirmed/s",
                    "services CPU ms/order",
                ],
                rows,
            ),
            "",
            f"**Ratio on/off, placed and confirmed per second: {num(result.ratio, 3)}** (target ≥ {TARGET_RATIO}, "
            f"i.e. at most {100 * (1 - TARGET_RATIO):.0f} % lost): {verdict(result.met)}. Per round: "
            f"{', '.join(num(r, 3) for r in result.round_ratios())}. Not exported/off: "
            f"{num(ratio(result.settled_rate(UNEXPORTED), result.settled_rate(OFF)), 3)}. "
            f"PlaceOrder RPS as ghz saw it, on/off: {num(result.rps_ratio, 3)} (placements can run ahead of "
            "their saga, so this one swings with how much CPU the consumers happened to take in each run).",
        ]
    )


async def _settled(order_database_url: str, *, timeout_s: float = 180.0) -> None:
    """Returns once no order is PENDING; raises if that takes longer than ``timeout_s``."""
    conn = await asyncpg.connect(asyncpg_dsn(order_database_url))
    try:
        deadline = time.monotonic() + timeout_s
        while await conn.fetchval("SELECT count(*) FROM orders WHERE status = 'PENDING'"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"orders still PENDING after {timeout_s:g}s")
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def _measure(infra: Infra, label: str, env: dict[str, str], shape: ghz.LoadShape) -> Round:
    folder = workdir(f"tracing-{label.replace(', ', '-').replace(' ', '-')}")
    protoset = ghz.build_protoset(folder / "order.protoset")
    async with running_mesh(infra, folder, order_env=env, inventory_env=env) as system:
        product = await system.clients.product(stock=HUGE_STOCK, name="Bench widget")
        customer = await system.clients.customer()
        data: dict[str, object] = {"customer_id": customer, "items": [{"product_id": product, "quantity": 1}]}
        print(f"tracing: ghz against order_svc, tracing {label} …", file=sys.stderr)

        async def load(name: str, load_shape: ghz.LoadShape, out: str) -> ghz.GhzResult:
            return await ghz.run(
                name,
                system.order_address,
                protoset=protoset,
                data=data,
                bearer=system.bearer(),
                shape=load_shape,
                out=folder / out,
                named=system.pids(),
            )

        if shape.warmup_s > 0:
            await load(f"warm-up {label}", replace(shape, duration_s=shape.warmup_s, warmup_s=0), "warmup.json")
            await _settled(system.order_database_url)
        started, before = time.monotonic(), cpu.snapshot(system.pids())
        result = await load(f"order_svc tracing {label}", replace(shape, warmup_s=0), "ghz.json")
        await _settled(system.order_database_url)
        settled_s, after = time.monotonic() - started, cpu.snapshot(system.pids())
        return Round(result, settled_s, cpu.usage(before, after))


async def run(infra: Infra, *, duration_s: float, warmup_s: float = 3.0, rounds: int = 1) -> TracingResult:
    shape = ghz.LoadShape(duration_s=duration_s, warmup_s=warmup_s)
    runs: dict[str, list[Round]] = {OFF: [], UNEXPORTED: [], ON: []}
    async with otlp_receiver() as (endpoint, receiver):
        sampled = {"OTEL_SDK_DISABLED": "false", "OTEL_TRACES_SAMPLER": "always_on"}
        envs = {
            OFF: {"OTEL_SDK_DISABLED": "true"},
            UNEXPORTED: sampled | {"OTEL_TRACES_EXPORTER": "none"},
            ON: sampled
            | {
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            },
        }
        for number in range(rounds):
            order = [OFF, UNEXPORTED, ON] if number % 2 == 0 else [ON, UNEXPORTED, OFF]
            for variant in order:
                runs[variant].append(await _measure(infra, variant, envs[variant], shape))
        spans = receiver.spans
    result = TracingResult(shape, runs, spans, machine._code_version())
    (workdir("tracing") / "result.json").write_text(json.dumps(result.as_dict(), indent=2))
    return result
