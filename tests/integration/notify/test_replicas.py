"""Two notify_svc dispatchers on one database and a real SMTP server: each mail sent once.

Each replica is its own pool (as two processes have) and its own ``Dispatcher`` loop. A replica
"killed" mid-send is one whose send never returns and whose loop and deliveries are cancelled
without recording anything, as a SIGKILL leaves it: its rows stay leased until the lease runs out.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from mesh.storage.engine import create_engine, session_factory
from notify_svc.adapters.email_channel import EmailChannel
from notify_svc.adapters.metrics import PrometheusMetrics
from notify_svc.adapters.unit_of_work import SqlUnitOfWork
from notify_svc.bootstrap import CONSUMER_GROUP, delivery_settings, email_channel
from notify_svc.domain.model import Notification, RenderedMessage
from notify_svc.domain.planning import Recipient
from notify_svc.entrypoints.workers import DispatchWorker
from notify_svc.service_layer.delivery import Dispatcher
from notify_svc.service_layer.ports import Dependencies
from notify_svc.settings import NotifySettings
from testkit.wait import eventually
from tests.integration.notify import conftest as notify_fixtures
from tests.integration.notify.support import NotificationRows, SmtpServer

pytestmark = pytest.mark.integration
LEASE_S = 2.0


@dataclass
class CountingChannel:
    """The real email channel, counting what this replica sent (the mail server counts what arrived)."""

    inner: EmailChannel
    sent: list[str] = field(default_factory=list)
    name: str = "email"

    def recipient_for(self, contact: Any) -> Recipient:
        return self.inner.recipient_for(contact)

    async def send(self, notification: Notification) -> None:
        await self.inner.send(notification)
        self.sent.append(notification.notification_id)


@dataclass
class HangingChannel:
    """A send that never finishes: the replica is stuck (then killed) with the mail in flight."""

    started: list[str] = field(default_factory=list)
    name: str = "email"

    def recipient_for(self, contact: Any) -> Recipient:
        raise NotImplementedError

    async def send(self, notification: Notification) -> None:
        self.started.append(notification.notification_id)
        await asyncio.Event().wait()


@dataclass
class Replica:
    dispatcher: Dispatcher
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        worker = DispatchWorker(self.dispatcher, poll_interval_s=0.1, woken=asyncio.Event())
        self.task = asyncio.create_task(worker.run(self.stop))

    async def shut_down(self) -> None:
        """A graceful stop: the deliveries in flight finish and record their outcome."""
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, timeout=10)

    async def kill(self) -> None:
        """Everything this replica runs ends at once, nothing recorded (SIGKILL)."""
        in_flight = list(self.dispatcher._in_flight)
        for task in [*in_flight, *([self.task] if self.task else [])]:
            task.cancel()
        await asyncio.gather(*in_flight, *([self.task] if self.task else []), return_exceptions=True)
        self.task = None


@dataclass
class Database:
    url: str
    settings: NotifySettings
    rows: NotificationRows
    make: Callable[[Any], Replica]


@pytest.fixture
async def database(database_factory: Callable[[str], Awaitable[str]], smtp: SmtpServer) -> AsyncIterator[Database]:
    url = await database_factory("notify_svc")
    # The lease is at least twice the SMTP timeout (a send is cut off at half the lease).
    settings = notify_fixtures.test_settings(
        url, smtp.port, claim_lease_s=LEASE_S, smtp_timeout_s=LEASE_S / 2, dispatch_concurrency=4
    )
    engines = []
    replicas: list[Replica] = []

    def make(channel: Any) -> Replica:
        engine = create_engine(url, pool_size=4)
        engines.append(engine)
        sessions = session_factory(engine)

        async def no_wake() -> None:
            return None

        deps = Dependencies(
            uow=lambda: SqlUnitOfWork(sessions, inbox_consumer=CONSUMER_GROUP),
            channels={"email": channel},
            clock=lambda: datetime.now(UTC),
            new_id=lambda: str(uuid.uuid4()),
            metrics=PrometheusMetrics(),
            wake=no_wake,
        )
        replicas.append(Replica(Dispatcher(deps, delivery_settings(settings))))
        return replicas[-1]

    try:
        yield Database(url, settings, NotificationRows(url), make)
    finally:
        for replica in replicas:
            await replica.kill()
        for engine in engines:
            await engine.dispose()


async def recorded(database: Database, count: int) -> tuple[str, list[str]]:
    """``count`` PENDING notifications, due now; (a tag in every subject, their ids)."""
    tag = f"rep-{uuid.uuid4().hex[:8]}"
    engine = create_engine(database.url, pool_size=1)
    try:
        now = datetime.now(UTC)
        ids = [str(uuid.uuid4()) for _ in range(count)]
        async with SqlUnitOfWork(session_factory(engine), inbox_consumer=CONSUMER_GROUP) as uow:
            for n, notification_id in enumerate(ids):
                await uow.notifications.add(
                    Notification.pending(
                        notification_id=notification_id,
                        event_id=f"evt-{tag}-{n}",
                        event_type="oms.order.v1.OrderPlaced",
                        order_id=f"ord-{tag}-{n}",
                        customer_id="cust-1",
                        channel="email",
                        recipient=f"customer{n}@example.com",
                        message=RenderedMessage(f"Order ord-{tag}-{n} received", "Thank you."),
                        now=now,
                    )
                )
            await uow.commit()
    finally:
        await engine.dispose()
    return tag, ids


async def test_two_dispatchers_send_each_notification_once(database: Database, smtp: SmtpServer) -> None:
    smtp.sink.data_delay_s = 0.2  # sends take a while, so both replicas have some in flight at once
    tag, ids = await recorded(database, 20)
    channels = [CountingChannel(email_channel(database.settings)) for _ in range(2)]
    first, second = database.make(channels[0]), database.make(channels[1])

    first.start()
    await eventually(
        lambda: database.rows.fetch("attempts > 0"), until=lambda rows: len(rows) >= 4, what="first replica busy"
    )
    second.start()
    rows = await eventually(
        lambda: database.rows.fetch(),
        until=lambda rows: all(r["status"] == "SENT" for r in rows),
        timeout_s=20,
        what="every notification SENT",
    )
    await first.shut_down()
    await second.shut_down()

    assert [r["attempts"] for r in rows] == [1] * len(ids)
    mails = [m for m in smtp.sink.received if tag in m.subject]
    assert sorted(m.message_id for m in mails) == sorted(f"<{i}@oms.local>" for i in ids)  # each once
    assert sorted(channels[0].sent + channels[1].sent) == sorted(ids)
    assert channels[0].sent and channels[1].sent, "both replicas dispatched"


async def test_a_dispatcher_killed_mid_send_leaves_its_rows_to_the_other_after_the_lease(
    database: Database, smtp: SmtpServer
) -> None:
    tag, ids = await recorded(database, 3)
    hanging, survivor_channel = HangingChannel(), CountingChannel(email_channel(database.settings))
    doomed, survivor = database.make(hanging), database.make(survivor_channel)

    doomed.start()
    await eventually(lambda: _now(hanging.started), until=lambda s: len(s) == 3, what="the doomed replica sending")
    claimed_at = time.monotonic()  # the lease began before this
    survivor.start()
    await doomed.kill()

    def mails() -> list[Any]:
        return [m for m in smtp.sink.received if tag in m.subject]

    first_mail = await eventually(
        lambda: _now(mails()), until=lambda m: len(m) > 0, timeout_s=LEASE_S + 10, what="a mail from the survivor"
    )
    waited = time.monotonic() - claimed_at
    rows = await eventually(
        lambda: database.rows.fetch(),
        until=lambda rows: all(r["status"] == "SENT" for r in rows),
        timeout_s=10,
        what="every notification SENT by the survivor",
    )
    await survivor.shut_down()

    # Not taken over inside the lease: the doomed replica might still have been sending.
    assert first_mail and waited >= LEASE_S - 0.2, f"taken over after {waited:.2f}s, lease {LEASE_S}s"
    assert [r["attempts"] for r in rows] == [2, 2, 2]  # the killed attempt counts
    assert sorted(survivor_channel.sent) == sorted(ids)
    assert sorted(m.message_id for m in mails()) == sorted(f"<{i}@oms.local>" for i in ids)


async def _now(value: Any) -> Any:
    return list(value)
