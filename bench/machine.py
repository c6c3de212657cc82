"""Facts about the machine and the servers a run measured on, for the report."""

from __future__ import annotations

import os
import platform
import re
import subprocess

import asyncpg
import grpc
import redis.asyncio as aioredis

from bench.report import table
from bench.system import ROOT
from testkit.infra import Infra


def _meminfo_gib() -> str:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "?"


def _cpu_model() -> str:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def _kafka_version() -> str:
    for jar in sorted((ROOT / ".oms" / "kafka" / "libs").glob("kafka-server-*.jar")):
        found = re.match(r"kafka-server-(.+)\.jar", jar.name)
        if found:
            return found.group(1) + " (KRaft, single broker)"
    return "?"


def _ghz_version() -> str:
    go_mod = ROOT / "tools" / "go" / "go.mod"
    found = re.search(r"github.com/bojand/ghz (v\S+)", go_mod.read_text()) if go_mod.exists() else None
    return found.group(1) if found else "?"


def _code_version() -> str:
    """The commit measured, and whether the working tree differed from it (others may be editing)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "mesh", "order_svc", "inventory_svc"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return "?"
    files = sorted(line[3:] for line in changed if line.strip())
    return head + (f" + uncommitted changes in {', '.join(files)}" if files else " (clean)")


async def facts(infra: Infra) -> dict[str, str]:
    conn = await asyncpg.connect(infra.pg_admin_url)
    try:
        pg = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    client = aioredis.from_url(infra.redis_url)
    try:
        redis_version = (await client.info("server"))["redis_version"]
    finally:
        await client.aclose()
    return {
        "CPUs (nproc)": str(os.cpu_count()),
        "CPU": _cpu_model(),
        "memory": _meminfo_gib(),
        "kernel": platform.release(),
        "Python": platform.python_version(),
        "grpcio": grpc.__version__,
        "PostgreSQL": str(pg),
        "Kafka": _kafka_version(),
        "Redis": str(redis_version),
        "ghz": _ghz_version(),
        "code measured": _code_version(),
    }


def markdown(values: dict[str, str], *, when: str) -> str:
    return "\n".join(
        [
            "## Machine",
            "",
            f"Last run {when}. Every process (the services, PostgreSQL, Kafka, Redis, ghz and the bench "
            "client) shares these cores, so absolute numbers are low and noisy; the ratios to the "
            "baselines measured in the same run are the figures to compare across machines.",
            "",
            table(["", ""], [[k, v] for k, v in values.items()]),
        ]
    )
