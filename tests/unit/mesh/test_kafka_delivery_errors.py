"""Which refusals of a message by Kafka are permanent (the relay parks the row) and which are
transient (the relay tries the row again after a backoff)."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError

from mesh.messaging.kafka import DeliveryError, is_permanent


@pytest.mark.parametrize(
    "code",
    [
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_MSG,
        KafkaError.INVALID_MSG_SIZE,
        KafkaError.INVALID_RECORD,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError.TOPIC_EXCEPTION,
    ],
)
def test_refusals_of_the_message_itself_are_permanent(code: int) -> None:
    error = DeliveryError(KafkaError(code))
    assert is_permanent(KafkaError(code))
    assert error.permanent and not error.retriable


@pytest.mark.parametrize(
    "code",
    [
        KafkaError._MSG_TIMED_OUT,
        KafkaError._QUEUE_FULL,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.NOT_ENOUGH_REPLICAS,
    ],
)
def test_failures_of_the_moment_are_transient(code: int) -> None:
    error = DeliveryError(KafkaError(code))
    assert not error.permanent and error.retriable
