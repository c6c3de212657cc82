"""A dead letter the broker refuses for good (the message was close to the size limit, and the
error headers pushed it over) is sent without its value instead of killing the consumer, which
would otherwise be restarted onto the same message for ever."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from confluent_kafka import KafkaError, Message

from mesh.messaging.events import Headers
from mesh.messaging.kafka import ConsumerSpec, DeliveryError, EventConsumer, KafkaProducer
from mesh.messaging.kafka._consumer import PoisonMessage, _Stopping
from mesh.settings.common import KafkaSettings


class RefusingProducer:
    """Refuses every message whose value is larger than ``limit`` with ``code``."""

    def __init__(self, limit: int, code: int = KafkaError.MSG_SIZE_TOO_LARGE) -> None:
        self.limit = limit
        self.code = code
        self.sent: list[tuple[str, str, bytes, Headers]] = []

    async def send(self, topic: str, *, key: str, value: bytes, headers: Headers) -> Any:
        if len(value) > self.limit:
            raise DeliveryError(KafkaError(self.code))
        self.sent.append((topic, key, value, headers))


def consumer(producer: RefusingProducer) -> EventConsumer:
    spec = ConsumerSpec(group_id="g", topics=["orders"], handlers={})
    return EventConsumer(KafkaSettings(), spec, dlq_producer=cast(KafkaProducer, producer))


def big_message() -> Message:
    headers = [("ce_id", b"e-1"), ("ce_type", b"oms.order.v1.OrderPlaced"), ("traceparent", b"x" * 55)]
    return Message(topic="orders", partition=2, offset=41, key=b"o-1", value=b"v" * 5000, headers=headers)


async def test_a_refused_dead_letter_is_sent_without_its_value() -> None:
    producer = RefusingProducer(limit=1000)
    await consumer(producer)._dead_letter(big_message(), PoisonMessage("bad"), attempts=5)
    [(topic, key, value, headers)] = producer.sent
    found = dict(headers)
    assert (topic, key, value) == ("orders.dlq", "o-1", b"")
    assert found["ce_id"] == b"e-1" and "traceparent" not in found
    assert found["dlq_original_offset"] == b"41" and found["dlq_original_partition"] == b"2"
    assert found["dlq_error"] == b"bad"
    assert b"5000 bytes" in found["dlq_dropped"]


async def test_a_dead_letter_that_fits_is_sent_whole() -> None:
    producer = RefusingProducer(limit=10_000)
    await consumer(producer)._dead_letter(big_message(), PoisonMessage("bad"), attempts=5)
    [(_, _, value, headers)] = producer.sent
    assert value == b"v" * 5000 and "dlq_dropped" not in dict(headers)


class FlakyProducer(RefusingProducer):
    """Times out ``failures`` times, then takes everything."""

    def __init__(self, failures: int) -> None:
        super().__init__(limit=10**9)
        self.failures = failures

    async def send(self, topic: str, *, key: str, value: bytes, headers: Headers) -> Any:
        if self.failures:
            self.failures -= 1
            raise DeliveryError(KafkaError(KafkaError._MSG_TIMED_OUT))
        return await super().send(topic, key=key, value=value, headers=headers)


async def test_a_transient_refusal_is_retried_until_the_dead_letter_is_written() -> None:
    producer = FlakyProducer(failures=2)
    await consumer(producer)._dead_letter(big_message(), PoisonMessage("bad"), attempts=5, stop=asyncio.Event())
    [(_, _, value, _)] = producer.sent
    assert value == b"v" * 5000


async def test_shutdown_while_the_dead_letter_is_retried_leaves_the_message_unacknowledged() -> None:
    producer = FlakyProducer(failures=10**6)
    stop = asyncio.Event()
    stop.set()
    with pytest.raises(_Stopping):
        await consumer(producer)._dead_letter(big_message(), PoisonMessage("bad"), attempts=5, stop=stop)
    assert producer.sent == []
