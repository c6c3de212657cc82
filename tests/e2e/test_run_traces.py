"""`make run` (scripts/run) with its trace viewer: the banner names Jaeger, one order placed through
the gateway is one trace there, and the text logs of the run name that trace and the order.

The run gets fresh databases, topics and free ports (as tests/e2e/test_run_supervision.py), the
viewer too (OMS_JAEGER_*_PORT), so it never meets a developer's own `make run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from mesh.telemetry.trace_response import parse_trace_response
from testkit.infra import ROOT, Infra, create_database, drop_database, fresh_kafka, group_suffix, remove_kafka_of
from testkit.jaeger import BUILD_TIMEOUT_S, JaegerProcess, ensure_built
from testkit.processes import free_port, stop_gracefully
from testkit.wait import eventually
from tests.e2e.tracing_support import SERVICES

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(BUILD_TIMEOUT_S + 600)]

MESH = ("order", "inventory", "notify", "payment")


class Run:
    def __init__(
        self, process: asyncio.subprocess.Process, output: Path, state: Path, viewer: JaegerProcess, phoenix_port: int
    ) -> None:
        self.process, self.output, self.state, self.viewer = process, output, state, viewer
        self.phoenix_port = phoenix_port

    def text(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""


@pytest.fixture
async def run(infra: Infra, tmp_path: Path) -> AsyncIterator[tuple[Run, str]]:
    await ensure_built()  # before the run's own start deadline begins
    kafka = await fresh_kafka(infra)
    databases = {name: await create_database(infra, f"{name}_svc") for name in MESH}
    gateway_port = free_port()
    phoenix_port = free_port()
    viewer = JaegerProcess(tmp_path / "unused.log")  # only its free ports: scripts/run starts it
    suffix = group_suffix(kafka, uuid.uuid4().hex[:8])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMS_", "OTEL_"))}
    env |= {
        "OMS_STATE_DIR": str(tmp_path / "state"),
        "OMS_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "OMS_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "OMS_KAFKA_PARTITIONS": str(kafka.partitions),
        "OMS_REDIS_URL": infra.redis_url,
        "OMS_INVENTORY_CACHE_KEY_PREFIX": f"test:{suffix}:",
        "OMS_GATEWAY_PORT": str(gateway_port),
        "OMS_RUN_SMTP_PORT": str(free_port()),
        "OMS_RUN_SMS_PORT": str(free_port()),
        "OMS_RUN_NO_SEED": "1",
        "OMS_RUN_STOP_TIMEOUT_S": "15",
        "OMS_PG_ADMIN_URL": infra.pg_admin_url,
        "OMS_JAEGER_UI_PORT": str(viewer.ports["ui"]),
        "OMS_JAEGER_QUERY_GRPC_PORT": str(viewer.ports["query_grpc"]),
        "OMS_JAEGER_OTLP_GRPC_PORT": str(viewer.ports["otlp_grpc"]),
        "OMS_JAEGER_OTLP_HTTP_PORT": str(viewer.ports["otlp_http"]),
        "OMS_PHOENIX_PORT": str(phoenix_port),
        "OMS_PHOENIX_GRPC_PORT": str(free_port()),
    }
    for name in MESH:
        prefix = f"OMS_{name.upper()}_"
        env |= {
            f"{prefix}DATABASE_URL": databases[name],
            f"{prefix}GRPC_PORT": str(free_port()),
            f"{prefix}METRICS_PORT": str(free_port()),
            f"{prefix}CONSUMER_GROUP_SUFFIX": suffix,
            f"{prefix}SHUTDOWN_GRACE_S": "3",
        }
    output = tmp_path / "run.out"
    with output.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            str(ROOT / "scripts" / "run"), cwd=ROOT, env=env, stdout=sink, stderr=sink, start_new_session=True
        )
    started = Run(process, output, tmp_path / "state", viewer, phoenix_port)
    try:
        yield started, f"http://127.0.0.1:{gateway_port}"
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await stop_gracefully(process, timeout_s=40)
        for url in databases.values():
            with contextlib.suppress(Exception):
                await drop_database(infra, url)
        await remove_kafka_of(kafka)


async def test_make_run_shows_one_order_as_one_trace_in_its_viewer(run: tuple[Run, str]) -> None:
    started, gateway = run

    async def up() -> bool:
        if started.process.returncode is not None:
            raise AssertionError(f"scripts/run exited with {started.process.returncode}:\n{started.text()[-4000:]}")
        return "OMS mesh is up" in started.text()

    # The first run on a machine installs the trace UI (scripts/tools phoenix) before the banner.
    await eventually(up, timeout_s=BUILD_TIMEOUT_S, interval_s=0.5, what="the banner")
    assert f"http://localhost:{started.phoenix_port}  (Arize Phoenix" in started.text()
    assert f"http://localhost:{started.viewer.ports['ui']}/api/traces/" in started.text()

    token = (started.state / "run" / "admin.token").read_text().strip()
    headers = {"Authorization": f"Bearer {token}"}
    product, customer = f"p-{uuid.uuid4().hex[:8]}", f"c-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=gateway, headers=headers, timeout=30) as http:
        price = {"currencyCode": "EUR", "units": "3"}
        for path, body in (
            ("/products", {"productId": product, "name": "Widget", "price": price, "active": True}),
            ("/api/inventory/add", {"productId": product, "quantity": "4"}),
            ("/customers", {"customerId": customer, "name": "Ada", "email": f"{customer}@example.com"}),
        ):
            assert (await http.post(path, json=body)).status_code == 200, path
        order = {"customerId": customer, "items": [{"productId": product, "quantity": 1}]}
        placed = await http.post("/orders", json=order)
        assert placed.status_code == 200, placed.text
    order_id = placed.json()["order"]["orderId"]
    trace_id, _, _ = parse_trace_response(placed.headers["traceresponse"])

    async with httpx.AsyncClient(timeout=5) as http:

        async def services() -> set[str]:
            spans = await started.viewer.trace(http, trace_id)
            sent = any(s.name == "smtp send" for s in spans)
            return {s.service for s in spans} if sent else set()

        seen = await eventually(
            services, until=lambda found: set(SERVICES) <= found, timeout_s=60, interval_s=0.5, what="the whole trace"
        )
    assert seen >= set(SERVICES)

    # The same trace reached the UI, forwarded by the viewer: Phoenix's own API lists its spans.
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{started.phoenix_port}", timeout=10) as http:

        async def in_the_ui() -> int:
            reply = await http.get("/v1/projects/default/spans", params={"limit": 1000})
            reply.raise_for_status()
            return sum(1 for span in reply.json()["data"] if span["context"]["trace_id"] == trace_id)

        shown = await eventually(in_the_ui, until=lambda n: n >= 10, timeout_s=60, interval_s=0.5, what="the UI")
    assert shown >= 10

    # The run's text logs name the trace and the order on each step of the saga.
    wanted = {"order": "order placed", "inventory": "stock reserved", "notify": "email accepted by the mail server"}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        missing = [
            name
            for name, message in wanted.items()
            if not any(
                message in line and f"trace_id={trace_id}" in line and f"order_id={order_id}" in line
                for line in (started.state / "logs" / f"{name}.log").read_text(errors="replace").splitlines()
            )
        ]
        if not missing:
            break
        await asyncio.sleep(0.5)
    else:
        raise AssertionError(f"no text line with trace_id={trace_id} and order_id={order_id} in {missing}")
