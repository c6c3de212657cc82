"""``python -m notify_svc`` as a real process: start-up errors, and a kill -9 in mid-flight."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from mesh.messaging.kafka import KafkaProducer
from mesh.settings.common import KafkaSettings
from testkit.infra import group_suffix
from testkit.wait import eventually
from tests.integration.notify.support import NotificationRows, SmtpServer, placed, publish

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
EVENTS = 200
CONCURRENCY = 4


def service_env(**variables: str) -> dict[str, str]:
    # Inherited OMS_* variables (a developer's shell) must not leak into the process under test.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    # The public development JWT secret is refused anywhere else (mesh.auth.load_auth).
    env["OMS_ENV"] = "development"
    env.update(variables)
    return env


async def run_to_exit(env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "notify_svc", cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, stderr.decode()


async def test_a_bad_setting_exits_2_with_one_line_naming_the_variable() -> None:
    code, stderr = await run_to_exit(service_env(OMS_NOTIFY_SMTP_PORT="not-a-port"))
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "OMS_NOTIFY_SMTP_PORT" in stderr


async def test_an_unreachable_database_exits_2_with_one_line() -> None:
    url = "postgresql+asyncpg://oms:oms@127.0.0.1:1/oms_notify"
    code, stderr = await run_to_exit(service_env(OMS_NOTIFY_DATABASE_URL=url))
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "cannot reach the database" in stderr and "OMS_NOTIFY_DATABASE_URL" in stderr


class ServiceProcess:
    """``python -m notify_svc`` with its output in a file (shown when a test fails)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self._env = env
        self._log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self._log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "notify_svc", cwd=ROOT, env=self._env, stdout=out, stderr=out
            )

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def terminate(self) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), timeout=30)

    def log_tail(self) -> str:
        return "\n".join(self._log.read_text(errors="replace").splitlines()[-40:])


@pytest.fixture
async def notify_process(
    database_factory: Callable[[str], Awaitable[str]], kafka: KafkaSettings, smtp: SmtpServer, tmp_path: Path
) -> AsyncIterator[tuple[ServiceProcess, NotificationRows]]:
    url = await database_factory("notify_svc")
    env = service_env(
        OMS_NOTIFY_DATABASE_URL=url,
        OMS_NOTIFY_GRPC_PORT="0",
        OMS_NOTIFY_METRICS_PORT="0",
        OMS_NOTIFY_SMTP_PORT=str(smtp.port),
        OMS_NOTIFY_SMTP_TIMEOUT_S="2",
        OMS_NOTIFY_CLAIM_LEASE_S="4",
        OMS_NOTIFY_DISPATCH_CONCURRENCY=str(CONCURRENCY),
        OMS_NOTIFY_DISPATCH_POLL_S="0.2",
        OMS_NOTIFY_RETRY_BASE_S="0.2",
        OMS_NOTIFY_RETRY_MAX_S="1",
        OMS_NOTIFY_CONSUMER_GROUP_SUFFIX=group_suffix(kafka, uuid.uuid4().hex[:8]),
        OMS_KAFKA_BOOTSTRAP=kafka.bootstrap,
        OMS_KAFKA_TOPIC_PREFIX=kafka.topic_prefix,
        OMS_LOG_LEVEL="WARNING",
    )
    service = ServiceProcess(env, tmp_path / "notify.log")
    yield service, NotificationRows(url)
    if service.process is not None and service.process.returncode is None:
        await service.kill()


async def test_kill_9_in_mid_flight_loses_nothing_and_duplicates_only_in_the_window(
    notify_process: tuple[ServiceProcess, NotificationRows],
    smtp: SmtpServer,
    producer: KafkaProducer,
    kafka: KafkaSettings,
) -> None:
    service, rows = notify_process
    # ~130 mails/s at most: slow enough to be caught in the middle of conversations.
    smtp.sink.rcpt_delay_s = 0.02
    smtp.sink.data_delay_s = 0.01
    await service.start()

    async def publish_all() -> list[str]:
        ids = []
        for i in range(EVENTS):
            order_id = f"ord-kill-{i:03d}-{uuid.uuid4().hex[:6]}"
            ids.append(await publish(producer, kafka, order_id, placed(order_id)))
        return ids

    publishing = asyncio.create_task(publish_all())
    try:
        received = await eventually(
            lambda: _count(smtp), until=lambda n: n >= 40, timeout_s=60, interval_s=0.01, what="40 mails"
        )
        await service.kill()
        at_kill = len(smtp.sink.received)
        event_ids = await asyncio.wait_for(publishing, timeout=60)
        assert received <= at_kill < EVENTS, "the kill must land in mid-flight"

        await service.start()
        await eventually(
            lambda: rows.fetch(),
            until=lambda r: len(r) >= EVENTS and all(x["status"] == "SENT" for x in r),
            timeout_s=90,
            interval_s=0.2,
            what="every event notified after the restart",
        )
        assert await service.terminate() == 0, "a SIGTERM stops the service cleanly"
    except BaseException:
        sys.stderr.write(service.log_tail())
        raise

    stored = await rows.fetch()
    per_event = collections.Counter(r["event_id"] for r in stored)
    assert sorted(per_event) == sorted(event_ids)
    assert max(per_event.values()) == 1, "an event has two notifications"

    by_message_id = collections.Counter(m.message_id for m in smtp.sink.received)
    assert set(by_message_id) == {f"<{r['id']}@oms.local>" for r in stored}, "a notification was never mailed"
    duplicates = sum(n - 1 for n in by_message_id.values())
    sys.stderr.write(f"\nkill test: {at_kill} mails before the kill, {duplicates} duplicate(s) by Message-ID\n")
    # Only mails accepted by the server but not yet marked SENT when the process died can be
    # sent twice: at most one per send in flight.
    assert duplicates <= CONCURRENCY
    assert all(r["attempts"] in (1, 2) for r in stored)


async def _count(smtp: SmtpServer) -> int:
    return len(smtp.sink.received)
