"""Placement → CONFIRMED latency of the saga at a steady rate, against the raw DB transaction.

Open loop: order *i* is due at ``t0 + i / rate`` and is sent then whether or not earlier ones
have answered, and every latency is measured from that scheduled time, so a stall cannot hide
the orders that would have been sent during it (no coordinated omission).

When an order becomes CONFIRMED is taken from PostgreSQL itself: a separate listener process
(``bench.saga_listener``) LISTENs on the order service's own ``oms_order_changed`` trigger,
which fires when an UPDATE of an order commits — for a new order, only the saga's outcome.
It adds no query and no RPC to the system under test (the trigger fires anyway). A sample of
orders is also followed through the public API (``WatchOrder``) as a cross-check that the
listener's times are what a client sees. At the end the bench waits (with a deadline) until
``ListOrders(status=PENDING)`` is empty, and counts the orders by status.

Baseline ("the raw database transaction", docs/architecture.md, "Measuring"): on a scratch copy of the order schema
in the same PostgreSQL, one asyncpg transaction inserting an order row, its item row and an
outbox row — the shape of the write ``PlaceOrder`` commits — timed back to back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import grpc

from bench import cpu
from bench.report import num, ratio, table, verdict
from bench.stats import Latency
from bench.system import HUGE_STOCK, ROOT, RunningMesh, running_mesh, workdir
from mesh.storage.engine import asyncpg_dsn
from oms.order.v1 import order_pb2, order_pb2_grpc
from testkit.infra import Infra, create_database, drop_database

TARGET_P50_MS = 25.0
TARGET_P99_MS = 150.0
SETTLE_DEADLINE_S = 120.0
MAX_IN_FLIGHT = 4000  # above rate x RPC timeout: never reached unless the client itself stalls
RPC_TIMEOUT_S = 10.0
WATCH_EVERY = 20  # one order in this many is also followed with WatchOrder
# The sampled watches all use the bench's one admin token and may pile up while the saga is
# saturated; they are the instrument, not the load, so the per-caller stream cap is lifted.
WATCH_CAPS = {"OMS_ORDER_WATCH_MAX_PER_PRINCIPAL": "100000", "OMS_ORDER_WATCH_MAX_STREAMS": "100000"}


@dataclass
class Placement:
    index: int
    scheduled: float
    sent: float = math.nan
    answered: float = math.nan
    order_id: str = ""
    error: str = ""


@dataclass
class SagaResult:
    rate: float
    duration_s: float
    placements: list[Placement]
    changed_at: dict[str, float]
    watched: dict[str, float]
    statuses: dict[str, int]
    pending_after_wait: int
    settle_wait_s: float
    raw_txn: Latency
    usage: cpu.Usage | None
    skipped: int = 0
    pending_ids: list[str] = field(default_factory=list)
    stages: dict[str, Latency] = field(default_factory=dict)
    floor: SagaResult | None = None

    @property
    def ok(self) -> list[Placement]:
        return [p for p in self.placements if not p.error]

    @property
    def errors(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for p in self.placements:
            if p.error:
                counts[p.error] = counts.get(p.error, 0) + 1
        return counts

    @property
    def achieved_rate(self) -> float:
        ok = self.ok
        if not ok:
            return 0.0
        span = max(p.answered for p in ok) - min(p.scheduled for p in self.placements)
        return len(ok) / span if span > 0 else math.nan

    @property
    def rpc_from_schedule(self) -> Latency:
        return Latency.of_seconds([p.answered - p.scheduled for p in self.ok])

    @property
    def rpc_service(self) -> Latency:
        return Latency.of_seconds([p.answered - p.sent for p in self.ok])

    @property
    def send_lag(self) -> Latency:
        return Latency.of_seconds([p.sent - p.scheduled for p in self.placements if not math.isnan(p.sent)])

    @property
    def confirmed(self) -> Latency:
        return Latency.of_seconds(
            [self.changed_at[p.order_id] - p.scheduled for p in self.ok if p.order_id in self.changed_at]
        )

    @property
    def watched_latency(self) -> tuple[Latency, Latency]:
        """(WatchOrder-observed, listener-observed) latency of the same sampled orders."""
        by_id = {p.order_id: p for p in self.ok}
        sample = [oid for oid in self.watched if oid in by_id and oid in self.changed_at]
        return (
            Latency.of_seconds([self.watched[oid] - by_id[oid].scheduled for oid in sample]),
            Latency.of_seconds([self.changed_at[oid] - by_id[oid].scheduled for oid in sample]),
        )

    @property
    def p50_multiple(self) -> float:
        return ratio(self.confirmed.p50, self.raw_txn.p50)

    @property
    def targets(self) -> dict[str, bool]:
        confirmed = self.confirmed
        return {
            f"placement→CONFIRMED p50 ≤ {TARGET_P50_MS:g} ms": confirmed.p50 <= TARGET_P50_MS,
            f"placement→CONFIRMED p99 ≤ {TARGET_P99_MS:g} ms": confirmed.p99 <= TARGET_P99_MS,
            "no order left PENDING": self.pending_after_wait == 0 and self.statuses.get("PENDING", 0) == 0,
            "offered rate achieved (≥ 99 %, no RPC errors)": self.achieved_rate >= 0.99 * self.rate and not self.errors,
        }

    def as_dict(self) -> dict[str, object]:
        watched, listened = self.watched_latency
        return {
            "rate": self.rate,
            "duration_s": self.duration_s,
            "placed": len(self.placements),
            "ok": len(self.ok),
            "errors": self.errors,
            "skipped": self.skipped,
            "achieved_rate": self.achieved_rate,
            "rpc_from_schedule_ms": self.rpc_from_schedule.as_dict(),
            "rpc_service_ms": self.rpc_service.as_dict(),
            "send_lag_ms": self.send_lag.as_dict(),
            "confirmed_ms": self.confirmed.as_dict(),
            "watch_sample_ms": watched.as_dict(),
            "listener_same_sample_ms": listened.as_dict(),
            "statuses": self.statuses,
            "pending_after_wait": self.pending_after_wait,
            "pending_ids_sample": self.pending_ids[:20],
            "settle_wait_s": self.settle_wait_s,
            "raw_txn_ms": self.raw_txn.as_dict(),
            "p50_multiple_of_raw_txn": self.p50_multiple,
            "targets": self.targets,
            "cpu": self.usage.as_dict() if self.usage else None,
            "stages_ms": {k: v.as_dict() for k, v in self.stages.items()},
            "floor": self.floor.as_dict() if self.floor else None,
        }


def _lat_row(label: str, lat: Latency) -> list[object]:
    return [label, f"{lat.count:,}", num(lat.p50, 2), num(lat.p95, 2), num(lat.p99, 2), num(lat.max, 2)]


def _summary(result: SagaResult) -> str:
    errors = ", ".join(f"{k}: {v:,}" for k, v in result.errors.items()) or "none"
    statuses = ", ".join(f"{k} {v:,}" for k, v in sorted(result.statuses.items())) or "none"
    return (
        f"{len(result.placements):,} orders due at {result.rate:g}/s for {result.duration_s:g} s; "
        f"achieved **{num(result.achieved_rate)} orders/s** ({len(result.ok):,} placed; RPC errors: {errors}"
        + (f"; {result.skipped:,} not sent, {MAX_IN_FLIGHT} already in flight" if result.skipped else "")
        + f"). By status at the end: {statuses}; still PENDING per `ListOrders(status=PENDING)` after waiting "
        f"{num(result.settle_wait_s, 1)} s (deadline {SETTLE_DEADLINE_S:g} s): **{result.pending_after_wait:,}**."
    )


def _latency_rows(result: SagaResult, label: str) -> list[list[object]]:
    watched, listened = result.watched_latency
    return [
        _lat_row(f"{label}: placement → CONFIRMED", result.confirmed),
        _lat_row(f"{label}: PlaceOrder RPC (from scheduled send)", result.rpc_from_schedule),
        _lat_row(f"{label}: PlaceOrder RPC (from actual send)", result.rpc_service),
        _lat_row(f"{label}: placer lateness (actual - scheduled send)", result.send_lag),
        _lat_row(f"{label}: cross-check, CONFIRMED seen by WatchOrder (1 in {WATCH_EVERY})", watched),
        _lat_row(f"{label}: cross-check, same orders seen by the listener", listened),
    ]


def markdown(result: SagaResult, *, when: str) -> str:
    floor = result.floor
    main = f"{result.rate:g}/s"
    rows = _latency_rows(result, main)
    if floor is not None:
        rows += _latency_rows(floor, f"{floor.rate:g}/s")
    rows.append(_lat_row("baseline: raw DB transaction (order + item + outbox rows)", result.raw_txn))
    lines = [
        "## Saga: placement → CONFIRMED at a steady rate",
        "",
        f"Run {when}. Open-loop placer, one product with stock for every order, stock pre-check on; "
        "latencies in ms from each order's *scheduled* send time.",
        "",
        f"- **{main}** (the target load): {_summary(result)}",
    ]
    if floor is not None:
        lines.append(
            f"- **{floor.rate:g}/s** (a light load, run first on the same mesh, to show the latency floor "
            f"when nothing queues): {_summary(floor)}"
        )
    lines += [
        "",
        table(["latency, ms", "n", "p50", "p95", "p99", "max"], rows),
        "",
        f"At {main}, placement → CONFIRMED p50 is **{num(result.p50_multiple, 1)}x** the raw database "
        "transaction's p50"
        + (f"; at {floor.rate:g}/s it is **{num(floor.p50_multiple, 1)}x**." if floor is not None else "."),
        "",
        table(
            ["target (issue #3)", f"at {main}"] + ([f"at {floor.rate:g}/s (for reference)"] if floor else []),
            [
                [name, verdict(met)] + ([verdict(floor.targets[name])] if floor is not None else [])
                for name, met in result.targets.items()
            ],
        ),
    ]
    if result.stages:
        stage_rows = []
        for stage, lat in result.stages.items():
            row: list[object] = [stage]
            if floor is not None and floor.stages:
                row += [num(floor.stages[stage].p50, 1), num(floor.stages[stage].p99, 1)]
            row += [num(lat.p50, 1), num(lat.p99, 1)]
            stage_rows.append(row)
        headers = ["stage (from the services' own timestamps)"]
        if floor is not None and floor.stages:
            headers += [f"{floor.rate:g}/s p50", f"{floor.rate:g}/s p99"]
        headers += [f"{main} p50", f"{main} p99"]
        lines += ["", "Where an order's time goes, stage by stage (ms):", "", table(headers, stage_rows)]
    if result.usage is not None:
        n = len(result.ok) or 1
        lines += [
            "",
            f"CPU from the first {main} order until the last placement and sampled watch ended "
            f"(machine busy {100 * result.usage.machine_busy_share:.0f} %; "
            f"{num(result.usage.available_s, 0)} CPU-seconds available):",
            "",
            table(
                ["process group", "CPU s", "CPU ms per placed order"],
                [[g, num(sec, 1), num(1000 * sec / n, 2)] for g, sec in result.usage.seconds.items()],
            ),
        ]
    return "\n".join(lines)


# --- where the time goes: the saga's own timestamps ------------------------------------------

STAGES = (
    "order commit → OrderPlaced published (order relay)",
    "OrderPlaced published → inventory handles it (Kafka hop 1)",
    "inventory commit → InventoryReserved published (inventory relay)",
    "InventoryReserved published → order CONFIRMED (Kafka hop 2)",
)


async def stage_breakdown(order_url: str, inventory_url: str, order_ids: set[str]) -> dict[str, Latency]:
    """Per-stage latency from the services' own rows (PostgreSQL ``now()``: one clock, the server's).

    ``created_at`` and ``published_at`` are the start times of the writing transactions, so
    each stage is exact to within a transaction's duration (about a millisecond).
    """
    order_conn = await asyncpg.connect(asyncpg_dsn(order_url))
    try:
        orders = {
            r["order_id"]: (r["created_at"], r["confirmed_at"])
            for r in await order_conn.fetch("SELECT order_id, created_at, confirmed_at FROM orders")
        }
        placed = {
            r["message_key"]: r["published_at"]
            for r in await order_conn.fetch(
                "SELECT message_key, published_at FROM outbox WHERE event_type LIKE '%OrderPlaced'"
            )
        }
    finally:
        await order_conn.close()
    inventory_conn = await asyncpg.connect(asyncpg_dsn(inventory_url))
    try:
        reserved = {
            r["message_key"]: (r["created_at"], r["published_at"])
            for r in await inventory_conn.fetch(
                "SELECT message_key, created_at, published_at FROM outbox WHERE event_type LIKE '%InventoryReserved'"
            )
        }
    finally:
        await inventory_conn.close()
    samples: list[list[float]] = [[] for _ in STAGES]
    for order_id in order_ids:
        created, confirmed = orders.get(order_id, (None, None))
        sent = placed.get(order_id)
        handled, forwarded = reserved.get(order_id, (None, None))
        if None in (created, confirmed, sent, handled, forwarded):
            continue
        points = [created, sent, handled, forwarded, confirmed]
        for i in range(len(STAGES)):
            samples[i].append((points[i + 1] - points[i]).total_seconds())  # type: ignore[operator]
    return {stage: Latency.of_seconds(values) for stage, values in zip(STAGES, samples, strict=True)}


# --- the baseline ------------------------------------------------------------------------------


async def raw_transaction(infra: Infra, *, count: int = 2000, max_s: float = 5.0) -> Latency:
    """Back-to-back INSERT order + item + outbox transactions on a scratch order database."""
    url = await create_database(infra, "order_svc")
    try:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            await conn.execute(
                "INSERT INTO customers (customer_id, name, email) VALUES ('c-bench', 'Ada Lovelace', 'ada@example.com')"
            )
            insert_order = await conn.prepare(
                "INSERT INTO orders (order_id, customer_id, status, currency, total_minor) "
                "VALUES ($1, 'c-bench', 'PENDING', 'EUR', 1250)"
            )
            insert_item = await conn.prepare(
                "INSERT INTO order_items (order_id, line_no, product_id, product_name, quantity, unit_price_minor) "
                "VALUES ($1, 1, 'p-bench', 'Bench widget', 1, 1250)"
            )
            insert_outbox = await conn.prepare(
                "INSERT INTO outbox (event_id, topic, message_key, event_type, payload, headers) "
                "VALUES ($1, 'orders', $2, 'oms.order.v1.OrderPlaced', $3, '{}'::jsonb)"
            )
            payload = bytes(300)  # about an OrderPlaced with one line
            samples: list[float] = []
            deadline = time.monotonic() + max_s
            for _ in range(count):
                if time.monotonic() > deadline:
                    break
                order_id = str(uuid.uuid4())
                started = time.perf_counter()
                async with conn.transaction():
                    await insert_order.fetch(order_id)
                    await insert_item.fetch(order_id)
                    await insert_outbox.fetch(str(uuid.uuid4()), order_id, payload)
                samples.append(time.perf_counter() - started)
            # The first few warm caches and plans; they are not the steady cost.
            return Latency.of_seconds(samples[50:] if len(samples) > 100 else samples)
        finally:
            await conn.close()
    finally:
        await drop_database(infra, url)


# --- the run -----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def listener(dsn: str, out: Path):  # type: ignore[no-untyped-def]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.saga_listener", dsn, str(out), cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        if line.strip() != b"READY":
            raise RuntimeError(f"listener did not start: {line!r}")
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), timeout=10)


def read_changes(path: Path) -> dict[str, float]:
    """order id → first time it changed (the saga's outcome, for a new order)."""
    first: dict[str, float] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            stamp, order_id = line.split(" ", 1)
            first.setdefault(order_id, float(stamp))
    return first


async def place_paced(
    system: RunningMesh, customer: str, product: str, *, rate: float, duration_s: float, watch_every: int
) -> tuple[list[Placement], dict[str, float], int]:
    metadata = system.admin_metadata()
    request = order_pb2.PlaceOrderRequest(
        customer_id=customer, items=[order_pb2.OrderLine(product_id=product, quantity=1)]
    )
    total = int(rate * duration_s)
    placements: list[Placement] = []
    watched: dict[str, float] = {}
    tasks: set[asyncio.Task[None]] = set()
    skipped = 0
    async with (
        grpc.aio.insecure_channel(system.order_address) as channel,
        grpc.aio.insecure_channel(system.order_address) as watch_channel,
    ):
        stub = order_pb2_grpc.OrderServiceStub(channel)
        watch_stub = order_pb2_grpc.OrderServiceStub(watch_channel)
        await channel.channel_ready()
        await watch_channel.channel_ready()

        async def watch(order_id: str) -> None:
            call = watch_stub.WatchOrder(
                order_pb2.WatchOrderRequest(order_id=order_id), metadata=metadata, timeout=SETTLE_DEADLINE_S
            )
            try:
                async for message in call:
                    if message.order.status != order_pb2.ORDER_STATUS_PENDING:
                        watched[order_id] = time.monotonic()
                        return
            except grpc.aio.AioRpcError:
                return
            finally:
                call.cancel()

        async def place(p: Placement) -> None:
            p.sent = time.monotonic()
            try:
                response = await stub.PlaceOrder(request, metadata=metadata, timeout=RPC_TIMEOUT_S)
            except grpc.aio.AioRpcError as exc:
                p.answered = time.monotonic()
                p.error = exc.code().name
                return
            p.answered = time.monotonic()
            p.order_id = response.order.order_id
            if watch_every and p.index % watch_every == 0:
                await watch(p.order_id)

        loop = asyncio.get_running_loop()
        t0 = time.monotonic() + 0.2
        for i in range(total):
            due = t0 + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            p = Placement(i, due)
            placements.append(p)
            if len(tasks) >= MAX_IN_FLIGHT:
                skipped += 1
                p.error = "NOT_SENT"
                continue
            task = loop.create_task(place(p))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(set(tasks), timeout=RPC_TIMEOUT_S + SETTLE_DEADLINE_S)
        for task in list(tasks):
            task.cancel()
    return placements, watched, skipped


async def count_pending(system: RunningMesh, customer: str) -> list[str]:
    """Ids of the customer's PENDING orders, as a client sees them (ListOrders, every page)."""
    ids: list[str] = []
    token = ""
    for _ in range(1000):  # bounded: 500 per page
        page = await system.clients.orders.ListOrders(
            order_pb2.ListOrdersRequest(
                customer_id=customer, status=order_pb2.ORDER_STATUS_PENDING, page_size=500, page_token=token
            ),
            metadata=system.admin_metadata(),
            timeout=30,
        )
        ids += [o.order_id for o in page.orders]
        token = page.next_page_token
        if not token:
            break
    return ids


async def count_statuses(order_database_url: str, customer: str) -> dict[str, int]:
    conn = await asyncpg.connect(asyncpg_dsn(order_database_url))
    try:
        rows = await conn.fetch(
            "SELECT status, count(*) AS n FROM orders WHERE customer_id = $1 GROUP BY status", customer
        )
    finally:
        await conn.close()
    return {row["status"]: int(row["n"]) for row in rows}


async def settle(system: RunningMesh, customer: str) -> tuple[list[str], float]:
    """Waits (bounded) until the customer has no PENDING order; returns those left and the wait."""
    started = time.monotonic()
    pending = await count_pending(system, customer)
    while pending and time.monotonic() - started < SETTLE_DEADLINE_S:
        await asyncio.sleep(0.5)
        pending = await count_pending(system, customer)
    return pending, time.monotonic() - started


async def paced_run(
    system: RunningMesh, product: str, *, rate: float, duration_s: float, raw_txn: Latency
) -> SagaResult:
    """One paced run for a customer of its own, so its orders are counted apart."""
    customer = await system.clients.customer()
    print(f"saga: {rate:g} orders/s for {duration_s:g} s …", file=sys.stderr)
    before = cpu.snapshot(system.pids())
    placements, watched, skipped = await place_paced(
        system, customer, product, rate=rate, duration_s=duration_s, watch_every=WATCH_EVERY
    )
    after = cpu.snapshot(system.pids())
    pending, settle_wait_s = await settle(system, customer)
    ids = {p.order_id for p in placements if p.order_id}
    return SagaResult(
        rate=rate,
        duration_s=duration_s,
        placements=placements,
        changed_at={},
        watched=watched,
        statuses=await count_statuses(system.order_database_url, customer),
        pending_after_wait=len(pending),
        settle_wait_s=settle_wait_s,
        raw_txn=raw_txn,
        usage=cpu.usage(before, after),
        skipped=skipped,
        pending_ids=pending,
        stages=await stage_breakdown(system.order_database_url, system.inventory_database_url, ids),
    )


async def run(
    infra: Infra, *, rate: float, duration_s: float, floor_rate: float = 20.0, floor_duration_s: float = 15.0
) -> SagaResult:
    """The raw-transaction baseline, a short run at a low rate (the latency floor), the paced run."""
    folder = workdir("saga")
    print("saga: raw database transaction baseline …", file=sys.stderr)
    raw_txn = await raw_transaction(infra)
    async with running_mesh(infra, folder, order_env=WATCH_CAPS) as system:
        product = await system.clients.product(stock=HUGE_STOCK, name="Bench widget")
        warm = await system.clients.customer()
        # A few orders first: connections, pools and caches warm up outside the measurement.
        for _ in range(20):
            await system.clients.settled((await system.clients.place(warm, [(product, 1)])).order_id)
        changes = folder / "changes.txt"
        async with listener(asyncpg_dsn(system.order_database_url), changes):
            floor = None
            if floor_rate > 0 and floor_duration_s > 0:
                floor = await paced_run(system, product, rate=floor_rate, duration_s=floor_duration_s, raw_txn=raw_txn)
            result = await paced_run(system, product, rate=rate, duration_s=duration_s, raw_txn=raw_txn)
    changed_at = read_changes(changes)
    result.changed_at = changed_at
    result.floor = floor
    if floor is not None:
        floor.changed_at = changed_at
    (folder / "result.json").write_text(json.dumps(result.as_dict(), indent=2, default=str))
    return result
