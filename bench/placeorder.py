"""PlaceOrder throughput and latency with ghz: the real order service vs an empty handler.

Both targets get the same ghz parameters, the same request and the same bearer token, one
after the other in the same run. The real service runs with inventory (prices and the stock
pre-check, on by default), PostgreSQL, Redis and Kafka; the saga keeps confirming the orders
in the background while ghz measures, as it would in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from dataclasses import dataclass

from bench import ghz
from bench.report import num, ratio, table, verdict
from bench.system import HUGE_STOCK, ROOT, running_mesh, workdir
from testkit.infra import Infra
from testkit.processes import stop_gracefully

TARGET_RATIO = 0.4


@dataclass
class PlaceOrderResult:
    shape: ghz.LoadShape
    baseline: ghz.GhzResult
    ours: ghz.GhzResult

    @property
    def ratio(self) -> float:
        return ratio(self.ours.rps_ok, self.baseline.rps_ok)

    @property
    def met(self) -> bool:
        return self.ratio >= TARGET_RATIO and self.ours.errors == 0

    def as_dict(self) -> dict[str, object]:
        return {
            "shape": self.shape.__dict__,
            "baseline": self.baseline.as_dict(),
            "ours": self.ours.as_dict(),
            "ratio": self.ratio,
            "target_ratio": TARGET_RATIO,
            "met": self.met,
        }


def markdown(result: PlaceOrderResult, *, when: str) -> str:
    shape = result.shape
    rows = []
    for label, r in (("empty grpc.aio handler (baseline)", result.baseline), ("order_svc PlaceOrder", result.ours)):
        rows.append(
            [
                label,
                num(r.rps_ok),
                num(r.p50_ms, 2),
                num(r.p95_ms, 2),
                num(r.p99_ms, 2),
                num(r.slowest_ms, 2),
                f"{r.ok:,}",
                f"{r.errors:,}",
            ]
        )
    lines = [
        "## PlaceOrder throughput (ghz)",
        "",
        f"Run {when}. ghz `--concurrency {shape.concurrency} --connections {shape.connections} "
        f"--duration {shape.duration_s:g}s --cpus {shape.ghz_cpus}`, after a discarded {shape.warmup_s:g}s warm-up, "
        "same request and bearer token for both targets.",
        "",
        table(["target", "RPS (OK)", "p50 ms", "p95 ms", "p99 ms", "max ms", "OK calls", "errors"], rows),
        "",
        f"**Ratio ours/baseline RPS: {num(result.ratio, 3)}** (target ≥ {TARGET_RATIO}): {verdict(result.met)}.",
    ]
    lines += ["", *cpu_table(result)]
    for r in (result.baseline, result.ours):
        if r.errors:
            lines += ["", f"Errors of {r.target}: {json.dumps(r.status_codes)}; samples: {json.dumps(r.error_samples)}"]
    return "\n".join(lines)


def cpu_table(result: PlaceOrderResult) -> list[str]:
    base, ours = result.baseline.cpu, result.ours.cpu
    if base is None or ours is None:
        return []
    groups = list(dict.fromkeys([*ours.seconds, *base.seconds]))
    rows = []
    for group in groups:
        b, o = base.seconds.get(group, 0.0), ours.seconds.get(group, 0.0)
        per_call = 1000 * o / result.ours.ok if result.ours.ok else float("nan")
        rows.append([group, num(b, 1), num(o, 1), num(per_call, 2)])
    return [
        "Where the CPU went during each measured run (CPU seconds from /proc; the machine has "
        f"{result.shape.duration_s * 2:g} CPU-seconds per run; busy: baseline run "
        f"{100 * base.machine_busy_share:.0f} %, order_svc run {100 * ours.machine_busy_share:.0f} %):",
        "",
        table(["process group", "baseline run CPU s", "order_svc run CPU s", "order_svc run CPU ms per order"], rows),
    ]


async def run(infra: Infra, *, duration_s: float, warmup_s: float = 3.0) -> PlaceOrderResult:
    folder = workdir("placeorder")
    shape = ghz.LoadShape(duration_s=duration_s, warmup_s=warmup_s)
    protoset = ghz.build_protoset(folder / "order.protoset")
    async with running_mesh(infra, folder) as system, baseline_server() as (baseline_address, baseline_pid):
        named = {baseline_pid: "baseline server"} | system.pids()
        product = await system.clients.product(stock=HUGE_STOCK, name="Bench widget")
        customer = await system.clients.customer()
        data = {"customer_id": customer, "items": [{"product_id": product, "quantity": 1}]}
        common = {"protoset": protoset, "data": data, "bearer": system.bearer(), "shape": shape, "named": named}
        print(f"placeorder: ghz against the empty handler at {baseline_address} …", file=sys.stderr)
        baseline = await ghz.run("baseline", baseline_address, out=folder / "ghz-baseline.json", **common)  # type: ignore[arg-type]
        print(f"placeorder: ghz against order_svc at {system.order_address} …", file=sys.stderr)
        ours = await ghz.run("order_svc", system.order_address, out=folder / "ghz-order.json", **common)  # type: ignore[arg-type]
    result = PlaceOrderResult(shape, baseline, ours)
    (folder / "result.json").write_text(json.dumps(result.as_dict(), indent=2))
    return result


@contextlib.asynccontextmanager
async def baseline_server():  # type: ignore[no-untyped-def]
    """``bench.baseline_server`` as a child process; yields its address."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.baseline_server", cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        if not line.startswith(b"PORT "):
            raise RuntimeError(f"baseline server did not start: {line!r}")
        yield f"127.0.0.1:{int(line.split()[1])}", process.pid
    finally:
        await stop_gracefully(process)
