"""The commands the README and docs/ mark runnable (a ```sh block right after `<!-- runnable -->`)
run as written against `scripts/run` (what `make run` runs), with the demo data it loads, from
the checkout, on a PATH without the virtualenv or .oms/bin (a newcomer's shell). So do the
banner's examples. The run is told to mail an SMTP server of the test's own
(``OMS_NOTIFY_SMTP_HOST``/``_PORT``), which gets the mail, and its own sink is not started.

This run has its own databases, topics and ports (other sessions share the machine), so the
documented default ports and the `.oms/` state folder are rewritten to this run's before a block
runs; nothing else in it changes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testkit.infra import ROOT, Infra, create_database, drop_database, fresh_kafka, group_suffix, remove_kafka_of
from testkit.processes import free_port
from testkit.wait import eventually
from tests.integration.notify.support import SmtpServer
from tests.unit.project.test_doc_commands import DOCS, runnable_blocks

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SERVICES = ("order", "inventory", "notify", "payment")
DEFAULT_PORTS = {"order": 50051, "inventory": 50052, "notify": 50053, "payment": 50054, "gateway": 8080}
FRESH_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass
class Run:
    process: asyncio.subprocess.Process
    output: Path
    state: Path
    ports: dict[str, int]
    smtp: SmtpServer

    def text(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""

    def localized(self, block: str) -> str:
        """``block`` with the documented ports and state folder replaced by this run's.

        The ``oms`` CLI finds the services on the ``make run`` ports by itself; this run's
        ports reach it as the ``OMS_CLI_<SERVICE>_ADDR`` settings it documents."""
        for name, default in DEFAULT_PORTS.items():
            block = re.sub(rf"\blocalhost:{default}\b", f"localhost:{self.ports[name]}", block)
            block = re.sub(rf"-addr localhost:{default}\b", f"-addr localhost:{self.ports[name]}", block)
        cli = " ".join(
            f"OMS_CLI_{name.upper()}_ADDR=127.0.0.1:{self.ports[name]}" for name in DEFAULT_PORTS if name != "gateway"
        )
        return f"export {cli}\n" + block.replace(".oms/run/", f"{self.state}/run/")


@pytest.fixture
async def run(infra: Infra, tmp_path: Path) -> AsyncIterator[Run]:
    kafka = await fresh_kafka(infra)
    databases: dict[str, str] = {}
    process: asyncio.subprocess.Process | None = None
    smtp = SmtpServer()
    smtp.start()
    try:
        for name in SERVICES:
            databases[name] = await create_database(infra, f"{name}_svc")
        ports = {name: free_port() for name in (*SERVICES, "gateway", "smtp", "sms")}
        state = tmp_path / "state"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OMS_", "OTEL_"))}
        env |= {
            "OMS_STATE_DIR": str(state),
            "OMS_KAFKA_BOOTSTRAP": kafka.bootstrap,
            "OMS_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
            "OMS_KAFKA_PARTITIONS": str(kafka.partitions),
            "OMS_REDIS_URL": infra.redis_url,
            "OMS_INVENTORY_CACHE_KEY_PREFIX": f"test:{uuid.uuid4().hex[:8]}:",
            "OMS_GATEWAY_PORT": str(ports["gateway"]),
            "OMS_RUN_SMTP_PORT": str(ports["smtp"]),  # where the sink would listen: it must not
            "OMS_RUN_SMS_PORT": str(ports["sms"]),
            # The trace UI (Phoenix) is tested by tests/e2e/test_run_traces.py; here it would only cost time.
            "OMS_RUN_TRACE_UI": "0",
            "OMS_NOTIFY_SMTP_HOST": "127.0.0.1",
            "OMS_NOTIFY_SMTP_PORT": str(smtp.port),
            "OMS_RUN_STOP_TIMEOUT_S": "15",
            "OMS_PG_ADMIN_URL": infra.pg_admin_url,
        }
        for name in SERVICES:
            prefix = f"OMS_{name.upper()}_"
            env |= {
                f"{prefix}DATABASE_URL": databases[name],
                f"{prefix}GRPC_PORT": str(ports[name]),
                f"{prefix}METRICS_PORT": str(free_port()),
                f"{prefix}CONSUMER_GROUP_SUFFIX": group_suffix(kafka),
                f"{prefix}SHUTDOWN_GRACE_S": "3",
            }
        output = tmp_path / "run.out"
        with output.open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                str(ROOT / "scripts" / "run"), cwd=ROOT, env=env, stdout=sink, stderr=sink, start_new_session=True
            )
        started = Run(process, output, state, ports, smtp)

        async def banner() -> bool:
            if process is not None and process.returncode is not None:
                raise AssertionError(f"scripts/run exited with {process.returncode}:\n{started.text()[-4000:]}")
            return "OMS mesh is up" in started.text()

        await eventually(banner, timeout_s=240, interval_s=0.5, what="the banner")
        yield started
    finally:
        if process is not None and process.returncode is None:
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
        smtp.stop()


async def shell(script: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMS_", "OTEL_", "VIRTUAL_ENV"))}
    env["PATH"] = FRESH_PATH
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        script,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=90)
    return int(process.returncode or 0), output.decode(errors="replace")


async def test_every_runnable_block_of_the_docs_runs_as_written(run: Run) -> None:
    blocks = [(doc.name, block) for doc in DOCS for block in runnable_blocks(doc)]
    assert blocks, "no block is marked runnable"
    failed = {}
    for name, block in blocks:
        code, output = await shell(run.localized(block))
        if code != 0:
            failed[f"{name}: {block[:80]}"] = f"exit {code}:\n{output[-2000:]}"
    assert failed == {}

    # The banner's gRPC example, as printed (its path to grpcurl included).
    printed = re.search(r"e\.g\.\s+(\S*grpcurl .*)$", run.text(), re.MULTILINE)
    assert printed is not None, run.text()[-3000:]
    code, output = await shell(printed[1])
    assert code == 0 and "oms.order.v1.OrderService" in output, output


async def test_mail_goes_to_the_smtp_server_the_caller_named(run: Run) -> None:
    assert "sent to your SMTP server 127.0.0.1:" in run.text()
    assert not (run.state / "logs" / "smtp.log").exists(), "the run started its sink anyway"
    body = '{"customerId": "c-demo-ada", "items": [{"productId": "coffee-ethiopia-yirgacheffe-250g", "quantity": 1}]}'
    code, output = await shell(
        f"curl -fsS -X POST localhost:{run.ports['gateway']}/orders -H 'Content-Type: application/json' "
        f"-H \"Authorization: Bearer $(cat {run.state}/run/customer.token)\" -d '{body}'"
    )
    assert code == 0, output

    async def mailed() -> bool:
        return any("ada@example.com" in mail.rcpt_tos for mail in list(run.smtp.sink.received))

    await eventually(mailed, timeout_s=90, interval_s=0.5, what="a mail to the demo customer at our SMTP server")
