"""scripts/run (what `make run` runs) supervises the mesh: a service killed with SIGKILL is
restarted with backoff and serves again, the others keep running, and the terminal says what
happened. The run gets its own databases, topics, consumer groups, ports and state folder."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from testkit.infra import ROOT, Infra, create_database, drop_database, fresh_kafka, group_suffix, remove_kafka_of
from testkit.processes import free_port
from testkit.wait import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SERVICES = ("order", "inventory", "notify", "payment")


@dataclass
class Run:
    process: asyncio.subprocess.Process
    output: Path
    ports: dict[str, int]

    def text(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""

    def pid_of(self, module: str) -> int | None:
        """The pid of the child of scripts/run running ``python -m <module>``."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                parent = int(stat.rsplit(")", 1)[1].split()[1])
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                if parent == self.process.pid and b"-m" in argv and module.encode() in argv:
                    return int(entry.name)
        return None


def gone(pid: int) -> bool:
    """No such process, or only its zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


async def serving(port: int) -> bool:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
        except grpc.aio.AioRpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


async def text_shows(run: Run, wanted: str) -> bool:
    if run.process.returncode is not None:
        raise AssertionError(f"scripts/run exited with {run.process.returncode}:\n{run.text()[-4000:]}")
    return wanted in run.text()


@pytest.fixture
async def run(infra: Infra, tmp_path: Path) -> AsyncIterator[Run]:
    kafka = await fresh_kafka(infra)
    databases = {name: await create_database(infra, f"{name}_svc") for name in SERVICES}
    ports = {name: free_port() for name in ("order", "inventory", "notify", "payment", "gateway", "smtp", "sms")}
    suffix = group_suffix(kafka, uuid.uuid4().hex[:8])
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    env |= {
        "OMS_STATE_DIR": str(tmp_path / "state"),
        "OMS_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "OMS_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "OMS_KAFKA_PARTITIONS": str(kafka.partitions),
        "OMS_REDIS_URL": infra.redis_url,
        "OMS_INVENTORY_CACHE_KEY_PREFIX": f"test:{suffix}:",
        "OMS_GATEWAY_PORT": str(ports["gateway"]),
        "OMS_RUN_SMTP_PORT": str(ports["smtp"]),
        "OMS_RUN_SMS_PORT": str(ports["sms"]),
        # The trace UI (Phoenix) is tested by tests/e2e/test_run_traces.py; here it would only cost time.
        "OMS_RUN_TRACE_UI": "0",
        "OMS_RUN_NO_SEED": "1",
        "OMS_RUN_STOP_TIMEOUT_S": "15",
        # The trace viewer is tested on its own (tests/e2e/test_trace_viewer.py); here it would
        # only take the standard ports another run may hold.
        "OMS_RUN_TRACES": "0",
        "OMS_PG_ADMIN_URL": infra.pg_admin_url,
    }
    for name in SERVICES:
        prefix = f"OMS_{name.upper()}_"
        env |= {
            f"{prefix}DATABASE_URL": databases[name],
            f"{prefix}GRPC_PORT": str(ports[name]),
            f"{prefix}METRICS_PORT": str(free_port()),
            f"{prefix}CONSUMER_GROUP_SUFFIX": suffix,
            f"{prefix}SHUTDOWN_GRACE_S": "3",
        }
    output = tmp_path / "run.out"
    with output.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            str(ROOT / "scripts" / "run"), cwd=ROOT, env=env, stdout=sink, stderr=sink, start_new_session=True
        )
    started = Run(process, output, ports)
    try:
        yield started
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=40)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        for url in databases.values():
            with contextlib.suppress(Exception):
                await drop_database(infra, url)
        await remove_kafka_of(kafka)


async def test_a_killed_service_is_restarted_and_the_others_keep_running(run: Run) -> None:
    await eventually(lambda: text_shows(run, "OMS mesh is up"), timeout_s=240, interval_s=0.5, what="the banner")
    order, inventory = run.pid_of("order_svc"), run.pid_of("inventory_svc")
    assert order is not None and inventory is not None, run.text()[-4000:]

    os.kill(order, signal.SIGKILL)
    await eventually(
        lambda: text_shows(run, "order exited with status 137 (killed by SIGKILL)"),
        timeout_s=30,
        interval_s=0.2,
        what="the death reported",
    )
    assert "restarting in 1 s (restart 1)" in run.text()
    await eventually(lambda: serving(run.ports["order"]), timeout_s=120, interval_s=0.5, what="order serving again")
    await eventually(
        lambda: text_shows(run, "order ready again after restart 1"), timeout_s=30, interval_s=0.5, what="ready line"
    )
    restarted = run.pid_of("order_svc")
    assert restarted is not None and restarted != order
    assert run.pid_of("inventory_svc") == inventory, "the other services were not touched"
    async with httpx.AsyncClient(timeout=5) as client:
        health = await eventually(
            lambda: client.get(f"http://127.0.0.1:{run.ports['gateway']}/healthz"),
            until=lambda r: r.status_code == 200,
            timeout_s=30,
            what="the gateway healthy with the restarted order service",
        )
    assert health.status_code == 200

    run.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(run.process.wait(), timeout=60) == 0
    assert gone(restarted), "nothing of the mesh outlives scripts/run"
