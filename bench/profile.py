"""A short cProfile of the order service under the PlaceOrder ghz load, summarised for the doc.

cProfile slows Python down (roughly 1.5-2x), so this run is separate from the measured one and
its throughput is not reported; what it gives is where the order service's CPU time goes.
Time a coroutine spends suspended (awaiting the database, inventory or Kafka) is not counted:
cumulative times are CPU time on the event loop's thread.
"""

from __future__ import annotations

import io
import pstats
import sys
from pathlib import Path

from bench import ghz
from bench.report import num, table
from bench.system import HUGE_STOCK, running_mesh, workdir
from testkit.infra import Infra

# Where the time of a placement can go, by the file the function lives in.
AREAS = (
    ("sqlalchemy/", "SQLAlchemy (ORM, Core, asyncpg dialect)"),
    ("asyncpg/", "asyncpg"),
    ("grpc/", "grpc / grpc.aio"),
    ("google/protobuf", "protobuf"),
    ("opentelemetry/", "OpenTelemetry"),
    ("jwt/", "PyJWT"),
    ("cryptography/", "cryptography"),
    ("redis/", "redis-py"),
    ("confluent_kafka/", "confluent-kafka"),
    ("pydantic", "pydantic"),
    ("logging/", "logging"),
    ("/mesh/", "mesh (our runtime)"),
    ("/order_svc/", "order_svc (our code)"),
    ("asyncio/", "asyncio"),
)


def area_of(filename: str) -> str:
    for needle, area in AREAS:
        if needle in filename:
            return area
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins / C functions"
    return "other Python"


def summarise(stats_path: Path, *, top: int = 15) -> tuple[list[list[object]], list[list[object]], float]:
    stats = pstats.Stats(str(stats_path), stream=io.StringIO())
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())  # tottime summed = profiled CPU time
    areas: dict[str, float] = {}
    for (filename, _line, _name), entry in raw.items():
        areas[area_of(filename)] = areas.get(area_of(filename), 0.0) + entry[2]
    by_area = [[a, num(t, 2), num(100 * t / total, 1)] for a, t in sorted(areas.items(), key=lambda kv: -kv[1])]
    functions = sorted(raw.items(), key=lambda kv: -kv[1][2])[:top]
    by_function = [
        [f"`{_short(filename)}:{line}({name})`", f"{entry[1]:,}", num(entry[2], 2), num(100 * entry[2] / total, 1)]
        for (filename, line, name), entry in functions
    ]
    return by_area, by_function, total


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


async def placeorder(infra: Infra, *, duration_s: float, when: str) -> str:
    """Profiles order_svc and inventory_svc (one run each) under the PlaceOrder ghz load."""
    parts = [
        "## Where PlaceOrder's CPU goes (cProfile)",
        "",
        f"Run {when} (`python -m bench placeorder --profile`; not part of a plain `make bench`). "
        "Each service run under cProfile (`bench/profile_entry.py`, timer: the main thread's CPU time) "
        f"during a {duration_s:g} s ghz run with the PlaceOrder parameters above; throughput under the "
        "profiler is not a result. The saga's consumer, relay and watch hub run in the same processes and "
        "are included. `bench/results/runs/*-profile/` keeps the `.prof` files.",
    ]
    for service in ("order_svc", "inventory_svc"):
        parts += ["", await _profile_one(infra, service, duration_s=duration_s)]
    return "\n".join(parts)


async def _profile_one(infra: Infra, service: str, *, duration_s: float) -> str:
    folder = workdir(f"profile-{service}")
    out = folder / f"{service}.prof"
    shape = ghz.LoadShape(duration_s=duration_s, warmup_s=2.0)
    protoset = ghz.build_protoset(folder / "order.protoset")
    env = {"BENCH_PROFILE_TARGET": service, "BENCH_PROFILE_OUT": str(out)}
    short = service.removesuffix("_svc")
    options = {f"{short}_env": env, f"{short}_module": "bench.profile_entry"}
    async with running_mesh(infra, folder, **options) as system:  # type: ignore[arg-type]
        product = await system.clients.product(stock=HUGE_STOCK, name="Bench widget")
        customer = await system.clients.customer()
        data = {"customer_id": customer, "items": [{"product_id": product, "quantity": 1}]}
        print(f"profile: ghz against order_svc, {service} under cProfile …", file=sys.stderr)
        result = await ghz.run(
            f"{service} profiled",
            system.order_address,
            protoset=protoset,
            data=data,
            bearer=system.bearer(),
            shape=shape,
            out=folder / "ghz-profiled.json",
        )
    if not out.exists():
        return f"### {service}\n\nThe profiled process wrote no stats."
    by_area, by_function, total = summarise(out)
    return "\n".join(
        [
            f"### {service}",
            "",
            f"{result.ok:,} orders placed during the profiled run; {num(total, 2)} CPU-seconds profiled "
            "(including start-up imports).",
            "",
            table(["where (own CPU time of the functions in it)", "CPU s", "%"], by_area),
            "",
            table(["top functions by own CPU time", "calls", "CPU s", "%"], by_function),
        ]
    )
