"""The topics a service creates: partitions, replicas and the in-sync minimum that goes with them."""

from __future__ import annotations

import pytest

from mesh.messaging.kafka._admin import min_in_sync, topic_specs
from mesh.settings.common import KafkaSettings


@pytest.mark.parametrize(("replicas", "in_sync"), [(1, 1), (2, 1), (3, 2), (5, 4)])
def test_a_write_needs_every_replica_but_one(replicas: int, in_sync: int) -> None:
    assert min_in_sync(replicas) == in_sync


def test_each_topic_and_its_dead_letters_get_the_replicas_and_the_in_sync_minimum() -> None:
    settings = KafkaSettings(bootstrap="127.0.0.1:1", topic_prefix="t.", partitions=6, replication_factor=3)
    specs = {spec.topic: spec for spec in topic_specs(settings, ["orders"])}
    assert set(specs) == {"t.orders", "t.orders.dlq"}
    assert specs["t.orders"].num_partitions == 6
    assert specs["t.orders.dlq"].num_partitions == 1
    for spec in specs.values():
        assert spec.replication_factor == 3
        assert spec.config == {"min.insync.replicas": "2"}
