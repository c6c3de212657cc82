"""Helpers of the notification integration tests: a real SMTP server, event publishing, DB reads."""

from __future__ import annotations

import asyncio
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiosmtpd.controller import Controller
from google.type import money_pb2

from mesh.messaging.events import cloudevent_headers
from mesh.messaging.kafka import KafkaProducer, Topics
from mesh.settings.common import KafkaSettings
from mesh.storage.engine import asyncpg_dsn
from notify_svc.dev_smtp import MailSink, ReceivedMail
from oms.order.v1 import events_pb2, order_pb2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RecordingSink(MailSink):
    """Accepts mail like the dev sink, but can refuse recipients for good (550)."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: set[str] = set()
        # Slow the conversation down so a test can catch the service with mail in flight, both
        # before the message is transmitted (RCPT) and after (DATA, accepted at its end).
        self.rcpt_delay_s = 0.0
        self.data_delay_s = 0.0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.rcpt_delay_s:
            await asyncio.sleep(self.rcpt_delay_s)
        if address in self.refused:
            return "550 5.1.1 <" + address + ">: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_delay_s:
            await asyncio.sleep(self.data_delay_s)
        return await super().handle_DATA(server, session, envelope)

    def mails_for(self, order_id: str) -> list[ReceivedMail]:
        return [m for m in list(self.received) if order_id in m.subject]


@dataclass
class SmtpServer:
    """aiosmtpd's Controller on a free port; can be stopped and started again on the same port."""

    sink: RecordingSink = field(default_factory=RecordingSink)
    port: int = field(default_factory=free_port)
    _controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def money(amount_cents: int, currency: str = "EUR") -> money_pb2.Money:
    return money_pb2.Money(currency_code=currency, units=amount_cents // 100, nanos=(amount_cents % 100) * 10_000_000)


def order(order_id: str, status: order_pb2.OrderStatus.ValueType = order_pb2.ORDER_STATUS_PENDING) -> order_pb2.Order:
    return order_pb2.Order(
        order_id=order_id,
        customer_id="cust-" + order_id,
        status=status,
        items=[
            order_pb2.OrderItem(
                product_id="sku-mug", quantity=2, product_name="Blue Mug", unit_price=money(750), line_total=money(1500)
            ),
            order_pb2.OrderItem(
                product_id="sku-towel",
                quantity=1,
                product_name="Tea Towel",
                unit_price=money(425),
                line_total=money(425),
            ),
        ],
        total=money(1925),
    )


def contact(order_id: str, email: str) -> events_pb2.CustomerContact:
    return events_pb2.CustomerContact(customer_id="cust-" + order_id, name="Ada Lovelace", email=email)


def placed(order_id: str, email: str = "ada@example.com") -> events_pb2.OrderPlaced:
    return events_pb2.OrderPlaced(order=order(order_id), customer=contact(order_id, email))


def confirmed(order_id: str, email: str = "ada@example.com") -> events_pb2.OrderStatusChanged:
    return events_pb2.OrderStatusChanged(
        order=order(order_id, order_pb2.ORDER_STATUS_CONFIRMED),
        old_status=order_pb2.ORDER_STATUS_PENDING,
        new_status=order_pb2.ORDER_STATUS_CONFIRMED,
        customer=contact(order_id, email),
    )


async def publish(
    producer: KafkaProducer, kafka: KafkaSettings, order_id: str, message: Any, event_id: str | None = None
) -> str:
    """Publishes like the outbox relay does (CloudEvents headers, keyed by order); returns ce_id."""
    event_id = event_id or str(uuid.uuid4())
    headers = cloudevent_headers(
        event_id=event_id, event_type=message.DESCRIPTOR.full_name, source="tests", time=datetime.now(UTC)
    )
    await producer.send(
        Topics(kafka.topic_prefix).name("orders"), key=order_id, value=message.SerializeToString(), headers=headers
    )
    return event_id


class NotificationRows:
    """Reads the notification table directly, to assert on what is stored."""

    def __init__(self, database_url: str) -> None:
        self._dsn = asyncpg_dsn(database_url)

    async def fetch(self, where: str = "TRUE", *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self._dsn)
        try:
            return list(
                await conn.fetch(
                    "SELECT notification_id::text AS id, event_id, order_id, status, attempts, last_error, recipient, "
                    f"subject FROM notifications WHERE {where} ORDER BY create_time",
                    *args,
                )
            )
        finally:
            await conn.close()
