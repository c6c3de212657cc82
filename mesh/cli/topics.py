"""``oms topics list|describe|lag``: the Kafka cluster as the services use it.

There is no gRPC API for the broker, so these ask it directly with an admin client built from
the services' own ``OMS_KAFKA_*`` settings (address, TLS). They only read.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    ConfigSource,
    OffsetSpec,
    ResourceType,
)

from mesh.cli.client import positive_float
from mesh.cli.errors import USAGE, CliError
from mesh.cli.output import print_fields, print_json, print_table
from mesh.settings.common import KafkaSettings, SettingsError, load

# Topics whose names start so are the broker's own (__consumer_offsets).
INTERNAL_PREFIX = "__"
# A committed offset below 0 is "none yet" in librdkafka.
NO_OFFSET = 0


def register(commands: Any) -> None:
    topics = commands.add_parser(
        "topics",
        help="Kafka topics: sizes, partitions, consumer lag",
        description="The Kafka topics the services use (read-only; asks the broker at OMS_KAFKA_BOOTSTRAP).",
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("connection")
    group.add_argument(
        "--bootstrap", help="Kafka bootstrap servers (default $OMS_KAFKA_BOOTSTRAP, else 127.0.0.1:19092)"
    )
    group.add_argument("--timeout", type=positive_float, default=15.0, help="seconds per request (default 15)")
    group.add_argument("--json", action="store_true", help="print JSON instead of a table")
    prefix_help = "only topics whose name starts so (default $OMS_KAFKA_TOPIC_PREFIX, i.e. all without one)"

    listing = topics.add_parser("list", parents=[options], help="topics with partition and message counts")
    listing.add_argument("--prefix", help=prefix_help)
    listing.add_argument("--internal", action="store_true", help="also the broker's own (__consumer_offsets)")
    listing.set_defaults(run=_list)
    describe = topics.add_parser("describe", parents=[options], help="one topic's partitions and settings")
    describe.add_argument("topic", help="its full name, prefix included")
    describe.set_defaults(run=_describe)
    lag = topics.add_parser("lag", parents=[options], help="how far each consumer group is behind, per topic")
    lag.add_argument("--group", default="", help="only groups whose id contains this (e.g. inventory-svc)")
    lag.add_argument("--prefix", help=prefix_help)
    lag.add_argument("--partitions", action="store_true", help="one row per partition instead of per topic")
    lag.set_defaults(run=_lag)


@dataclass(frozen=True)
class PartitionOffsets:
    topic: str
    partition: int
    earliest: int
    latest: int

    @property
    def messages(self) -> int:
        """Records still held (the retention may have deleted older ones)."""
        return max(self.latest - self.earliest, 0)


class Broker:
    """The admin client and the calls the commands make, each bounded by ``timeout_s``."""

    def __init__(self, args: argparse.Namespace) -> None:
        settings = _settings()
        config = settings.client_config()
        if args.bootstrap:
            config["bootstrap.servers"] = args.bootstrap
        self.bootstrap = str(config["bootstrap.servers"])
        # librdkafka would log every failed connection attempt to stderr; the one error the
        # command ends with says what went wrong.
        config["log_level"] = 0
        self.default_prefix = settings.topic_prefix
        self.timeout_s = float(args.timeout)
        self._admin = AdminClient(config)

    def topics(self) -> dict[str, Any]:
        """Topic name → its metadata (partitions with leader, replicas, in-sync replicas)."""
        metadata = self._wait(lambda: self._admin.list_topics(timeout=self.timeout_s))
        return dict(metadata.topics)

    def offsets(self, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], PartitionOffsets]:
        wanted = sorted(set(partitions))
        if not wanted:
            return {}
        earliest = self._list_offsets(wanted, OffsetSpec.earliest())  # type: ignore[no-untyped-call]
        latest = self._list_offsets(wanted, OffsetSpec.latest())  # type: ignore[no-untyped-call]
        return {tp: PartitionOffsets(tp[0], tp[1], earliest[tp], latest[tp]) for tp in wanted}

    def _list_offsets(self, partitions: list[tuple[str, int]], spec: OffsetSpec) -> dict[tuple[str, int], int]:
        request = {TopicPartition(topic, partition): spec for topic, partition in partitions}
        futures = self._wait(lambda: self._admin.list_offsets(request, request_timeout=self.timeout_s))
        return {(tp.topic, tp.partition): self._result(future).offset for tp, future in futures.items()}

    def configs(self, topic: str) -> dict[str, Any]:
        futures = self._wait(
            lambda: self._admin.describe_configs(
                [ConfigResource(ResourceType.TOPIC, topic)], request_timeout=self.timeout_s
            )
        )
        [future] = futures.values()
        return dict(self._result(future))

    def groups(self) -> list[Any]:
        """The consumer groups the broker knows (group_id, state)."""
        future = self._wait(lambda: self._admin.list_consumer_groups(request_timeout=self.timeout_s))
        return list(self._result(future).valid)

    def committed(self, group_ids: list[str]) -> dict[str, list[TopicPartition]]:
        """Each group's committed offsets (one request per group, all in flight at once)."""
        futures = {}
        for group in group_ids:
            request = [ConsumerGroupTopicPartitions(group)]
            futures[group] = self._wait(
                lambda request=request: self._admin.list_consumer_group_offsets(request, request_timeout=self.timeout_s)
            )[group]
        return {group: list(self._result(future).topic_partitions or []) for group, future in futures.items()}

    def _wait(self, call: Any) -> Any:
        try:
            return call()
        except KafkaException as exc:
            raise CliError(f"Kafka: {_kafka_text(exc)} ({self.bootstrap})") from exc

    def _result(self, future: Future[Any]) -> Any:
        try:
            return future.result(timeout=self.timeout_s + 5)
        except KafkaException as exc:
            raise CliError(f"Kafka: {_kafka_text(exc)} ({self.bootstrap})") from exc
        except TimeoutError as exc:
            raise CliError(f"Kafka: no answer within {self.timeout_s:g}s ({self.bootstrap})") from exc


def _kafka_text(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else None
    if isinstance(error, KafkaError):
        return f"{error.name()}: {error.str()}"
    return str(exc)


def _settings() -> KafkaSettings:
    try:
        return load(KafkaSettings)
    except SettingsError as exc:
        raise CliError(str(exc), status=USAGE) from exc


@dataclass(frozen=True)
class TopicSize:
    topic: str
    partitions: int
    # Records still held, and every record ever published (the sum of the end offsets).
    messages: int
    end_offsets: int

    @classmethod
    def of(cls, topic: str, partitions: list[PartitionOffsets]) -> TopicSize:
        return cls(topic, len(partitions), sum(p.messages for p in partitions), sum(p.latest for p in partitions))


def selected(names: Iterable[str], prefix: str, *, internal: bool = False) -> list[str]:
    """The topic names under ``prefix``, sorted; the broker's own only when asked for."""
    return sorted(n for n in names if n.startswith(prefix) and (internal or not n.startswith(INTERNAL_PREFIX)))


def _list(args: argparse.Namespace) -> int:
    broker = Broker(args)
    prefix = broker.default_prefix if args.prefix is None else args.prefix
    topics = broker.topics()
    names = selected(topics, prefix, internal=args.internal)
    offsets = broker.offsets((name, p) for name in names for p in topics[name].partitions)
    listed = [TopicSize.of(name, [offsets[(name, p)] for p in topics[name].partitions]) for name in names]
    if args.json:
        print_json({"topics": [asdict(t) for t in listed]})
        return 0
    rows = [[t.topic, str(t.partitions), str(t.messages), str(t.end_offsets)] for t in listed]
    print_table(["TOPIC", "PARTITIONS", "MESSAGES", "PUBLISHED"], rows)
    sys.stdout.write(f"{len(listed)} topic(s) on {broker.bootstrap}\n")
    return 0


def _describe(args: argparse.Namespace) -> int:
    broker = Broker(args)
    topics = broker.topics()
    if args.topic not in topics:
        raise CliError(f"no topic {args.topic[:249]!r} on {broker.bootstrap} (see `oms topics list`)")
    metadata = topics[args.topic]
    offsets = broker.offsets((args.topic, p) for p in metadata.partitions)
    partitions = [
        {
            "partition": p.id,
            "leader": p.leader,
            "replicas": list(p.replicas),
            "in_sync": list(p.isrs),
            "earliest": offsets[(args.topic, p.id)].earliest,
            "latest": offsets[(args.topic, p.id)].latest,
        }
        for p in sorted(metadata.partitions.values(), key=lambda p: p.id)
    ]
    # Only what differs from Kafka's own defaults: set on the topic, or on the broker for all.
    configs = [
        {"name": name, "value": entry.value, "source": config_source(entry.source)}
        for name, entry in sorted(broker.configs(args.topic).items())
        if not entry.is_default
    ]
    if args.json:
        print_json({"topic": args.topic, "partitions": partitions, "configs": configs})
        return 0
    print_fields([("topic", args.topic), ("partitions", str(len(partitions)))])
    sys.stdout.write("\n")
    rows = [
        [
            str(p["partition"]),
            str(p["leader"]),
            ",".join(map(str, p["replicas"])),
            ",".join(map(str, p["in_sync"])),
            str(p["earliest"]),
            str(p["latest"]),
        ]
        for p in partitions
    ]
    print_table(["PARTITION", "LEADER", "REPLICAS", "IN SYNC", "EARLIEST", "LATEST"], rows)
    if configs:
        sys.stdout.write("\n")
        print_table(["SETTING", "VALUE", "SET ON"], [[c["name"], str(c["value"]), c["source"]] for c in configs])
    return 0


@dataclass(frozen=True)
class Lag:
    group: str
    state: str
    topic: str
    partition: int | None  # None: the sum over the topic's partitions
    committed: int
    latest: int

    @property
    def lag(self) -> int:
        return max(self.latest - self.committed, 0)

    @property
    def counts(self) -> tuple[int, int, int]:
        return self.committed, self.latest, self.lag


def lags(
    committed: dict[str, list[TopicPartition]],
    offsets: dict[tuple[str, int], PartitionOffsets],
    states: dict[str, str],
    *,
    per_partition: bool,
) -> list[Lag]:
    """Each group's distance from the end, per partition or summed per topic. A partition with
    no committed offset counts from its earliest record: all of it is still to read."""
    rows = []
    for group, partitions in sorted(committed.items()):
        for tp in partitions:
            end = offsets.get((tp.topic, tp.partition))
            if end is None:
                continue
            position = tp.offset if tp.offset >= NO_OFFSET else end.earliest
            rows.append(Lag(group, states.get(group, ""), tp.topic, tp.partition, position, end.latest))
    rows.sort(key=lambda r: (r.group, r.topic, r.partition or 0))
    if per_partition:
        return rows
    summed: dict[tuple[str, str], list[Lag]] = defaultdict(list)
    for row in rows:
        summed[(row.group, row.topic)].append(row)
    return [
        Lag(group, parts[0].state, topic, None, sum(r.committed for r in parts), sum(r.latest for r in parts))
        for (group, topic), parts in summed.items()
    ]


def config_source(source: Any) -> str:
    """Where a topic setting comes from: ``topic`` (set on it), ``broker`` (the broker's, for
    every topic), else Kafka's name for it in lower case."""
    try:
        name = ConfigSource(source).name
    except ValueError:  # a source newer than this client knows
        return str(source)
    if name == "DYNAMIC_TOPIC_CONFIG":
        return "topic"
    if "BROKER" in name:
        return "broker"
    return name.lower()


def _lag(args: argparse.Namespace) -> int:
    broker = Broker(args)
    prefix = broker.default_prefix if args.prefix is None else args.prefix
    groups = [g for g in broker.groups() if args.group in g.group_id]
    states = {g.group_id: _state_name(g.state) for g in groups}
    committed = broker.committed(sorted(states))
    committed = {
        group: [tp for tp in tps if tp.topic.startswith(prefix) and not tp.topic.startswith(INTERNAL_PREFIX)]
        for group, tps in committed.items()
    }
    offsets = broker.offsets((tp.topic, tp.partition) for tps in committed.values() for tp in tps)
    rows = lags(committed, offsets, states, per_partition=args.partitions)
    if args.json:
        print_json(
            {
                "lags": [
                    {"group": r.group, "state": r.state, "topic": r.topic}
                    | ({"partition": r.partition} if r.partition is not None else {})
                    | {"committed": r.committed, "latest": r.latest, "lag": r.lag}
                    for r in rows
                ]
            }
        )
        return 0
    header = ["GROUP", "STATE", "TOPIC", *(["PARTITION"] if args.partitions else []), "COMMITTED", "END", "LAG"]
    table = [
        [r.group, r.state, r.topic, *([str(r.partition)] if args.partitions else []), *map(str, r.counts)] for r in rows
    ]
    print_table(header, table)
    sys.stdout.write(f"{len({r.group for r in rows})} group(s), total lag {sum(r.lag for r in rows)}\n")
    return 0


def _state_name(state: Any) -> str:
    name = getattr(state, "name", str(state))
    return str(name).lower()
