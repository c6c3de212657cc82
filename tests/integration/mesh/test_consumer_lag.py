"""Consumer lag per partition, measured against a real broker without a broker round trip."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, Message

from mesh.messaging.kafka import KafkaProducer, Topics
from mesh.messaging.kafka._consumer import partition_lags
from mesh.settings.common import KafkaSettings
from testkit.infra import group_id
from testkit.wait import eventually

pytestmark = pytest.mark.integration


async def test_lag_is_what_the_partition_holds_beyond_our_position(kafka: KafkaSettings) -> None:
    settings = kafka
    topic = Topics(settings.topic_prefix).name("orders")
    key = f"o-{uuid.uuid4().hex}"  # one key, so one partition holds all five
    async with KafkaProducer(settings, client_id="lag-test") as producer:
        for n in range(5):
            await producer.send(topic, key=key, value=str(n).encode(), headers={})

    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap,
            "group.id": group_id(settings, "lag-test"),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([topic])
        taken = _consume(consumer, 2)
        partition = taken[0].partition()
        assert partition is not None

        # Position 2, end of log 5: three behind, known from the fetches the client made on its own.
        async def lags() -> dict[tuple[str, int], int]:
            return partition_lags(consumer)

        measured = await eventually(
            lags, until=lambda found: found.get((topic, partition)) == 3, timeout_s=10, what="a lag of 3"
        )
        assert all(lag == 0 for (_, p), lag in measured.items() if p != partition), measured
    finally:
        consumer.close()


def _consume(consumer: Consumer, count: int) -> list[Message]:
    taken: list[Message] = []
    deadline = time.monotonic() + 30
    while len(taken) < count:
        assert time.monotonic() < deadline, f"only {len(taken)} of {count} messages arrived"
        message = consumer.poll(0.2)
        if message is not None and message.error() is None:
            taken.append(message)
    return taken
