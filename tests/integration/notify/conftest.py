"""Fixtures of the notification integration tests: real PostgreSQL, Kafka and an SMTP server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from mesh.auth.settings import AuthSettings
from mesh.messaging.kafka import KafkaProducer
from mesh.serving.server import ServiceProcess, serve
from mesh.settings.common import DeploymentSettings, KafkaSettings
from notify_svc.bootstrap import Connections, bootstrap, build_connections, build_dependencies
from notify_svc.service_layer.ports import Dependencies
from notify_svc.settings import Config, NotifySettings
from oms.notify.v1 import notify_pb2_grpc
from testkit.infra import group_suffix
from tests.integration.notify.support import NotificationRows, SmtpServer

pytestmark = pytest.mark.integration


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def producer(kafka: KafkaSettings) -> AsyncIterator[KafkaProducer]:
    async with KafkaProducer(kafka, client_id="notify-tests") as started:
        yield started


def test_settings(database_url: str, smtp_port: int, **overrides: Any) -> NotifySettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "grpc_port": 0,
        "metrics_port": 0,
        "smtp_port": smtp_port,
        "smtp_timeout_s": 2.0,
        "retry_base_s": 0.2,
        "retry_max_s": 1.0,
        "dispatch_poll_s": 0.2,
        "claim_lease_s": 5.0,
        "migrate_on_start": False,
        "shutdown_grace_s": 2.0,
    }
    values.update(overrides)
    return NotifySettings(**values)


@dataclass
class RunningNotify:
    process: ServiceProcess
    # The handlers' ports on the same database (a pool of the fixture's own), to record events directly.
    deps: Dependencies
    rows: NotificationRows
    stub: notify_pb2_grpc.NotificationServiceAsyncStub


StartNotify = Callable[..., Awaitable[RunningNotify]]


@pytest.fixture
async def start_notify(
    database_factory: Callable[[str], Awaitable[str]], kafka: KafkaSettings, smtp: SmtpServer
) -> AsyncIterator[StartNotify]:
    """``await start_notify(**setting_overrides)`` → the service running in this process."""
    running: list[tuple[asyncio.Event, asyncio.Task[None], grpc.aio.Channel]] = []
    connections: list[Connections] = []

    async def start(**overrides: Any) -> RunningNotify:
        url = await database_factory("notify_svc")
        # Under the topics' marker, so the group is deleted with them.
        overrides.setdefault("consumer_group_suffix", group_suffix(kafka, uuid.uuid4().hex[:8]))
        # Auth off: the servicer then sees the synthetic admin, as a caller without a token would.
        # Development: the webhook tests' receivers are plain http on loopback.
        config = Config(
            service=test_settings(url, smtp.port, **overrides),
            kafka=kafka,
            auth=AuthSettings(enabled=False),
            deployment=DeploymentSettings(env="development"),
        )
        process = bootstrap(config)
        # The test reads the same database beside the process, through connections of its own.
        connections.append(build_connections(config))
        deps = build_dependencies(config, connections=connections[-1])
        stop = asyncio.Event()
        task = asyncio.create_task(serve(process, stop, handle_signals=False))
        started = asyncio.create_task(process.started.wait())
        await asyncio.wait([task, started], timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # raises what made the service fail to start
        assert process.started.is_set(), "notify service did not start"
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{process.bound_port}")
        running.append((stop, task, channel))
        stub: Any = notify_pb2_grpc.NotificationServiceStub(channel)
        return RunningNotify(process, deps, NotificationRows(url), stub)

    try:
        yield start
    finally:
        for stop, task, channel in running:
            await channel.close()
            stop.set()
            await asyncio.wait_for(task, timeout=30)
        for conn in connections:
            await conn.close()
