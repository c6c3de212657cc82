"""Kafka plumbing: an async-friendly producer, the consumer loop, topic administration."""

from mesh.messaging.kafka._admin import ensure_topics, topic_specs
from mesh.messaging.kafka._consumer import ConsumerSpec, EventConsumer, EventHandler
from mesh.messaging.kafka._producer import DeliveryError, KafkaProducer, is_permanent
from mesh.messaging.kafka._topics import Topics

__all__ = [
    "ConsumerSpec",
    "DeliveryError",
    "EventConsumer",
    "EventHandler",
    "KafkaProducer",
    "Topics",
    "ensure_topics",
    "is_permanent",
    "topic_specs",
]
