"""Creates the topics a service declares with explicit partition counts (the broker never auto-creates)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from mesh.messaging.kafka._topics import Topics
from mesh.settings.common import KafkaSettings

DEAD_LETTER_PARTITIONS = 1


def topic_specs(settings: KafkaSettings, names: Sequence[str]) -> list[NewTopic]:
    """``names`` are the service's declared topics, without the prefix; each gets its dead-letter topic."""
    topics = Topics(settings.topic_prefix)
    replicas = settings.replication_factor
    config = {"min.insync.replicas": str(min_in_sync(replicas))}
    specs = []
    for name in (topics.name(n) for n in names):
        specs.append(NewTopic(name, settings.partitions, replicas, config=config))
        specs.append(NewTopic(Topics.dead_letter(name), DEAD_LETTER_PARTITIONS, replicas, config=config))
    return specs


def min_in_sync(replicas: int) -> int:
    """Replicas that must have a write before it is acknowledged (with the producers' acks=all).

    One fewer than all of them: a topic survives one broker down without refusing writes, and
    an acknowledged event is on at least two brokers as soon as there are three.
    """
    return max(1, replicas - 1)


def _ensure_topics_blocking(settings: KafkaSettings, names: Sequence[str], timeout_s: float) -> list[str]:
    admin = AdminClient(settings.client_config())
    futures = admin.create_topics(topic_specs(settings, names), operation_timeout=timeout_s, request_timeout=timeout_s)
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    return created


async def ensure_topics(settings: KafkaSettings, names: Sequence[str], *, timeout_s: float = 30.0) -> list[str]:
    """Creates the missing ones of ``names`` (and their dead-letter topics), idempotently; returns
    the full names it created."""
    return await asyncio.to_thread(_ensure_topics_blocking, settings, names, timeout_s)
