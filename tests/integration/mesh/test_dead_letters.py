"""The operator's dead-letter RPCs against a real broker: read back, decoded, paged, replayed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mesh.auth import principal
from mesh.messaging import dead_letters as dead_letters_module
from mesh.messaging.dead_letters import DeadLetters, EventTypes
from mesh.messaging.events import cloudevent_headers
from mesh.messaging.kafka import KafkaProducer, Topics
from mesh.messaging.operations import OperationsServicer
from mesh.messaging.parked import ParkedRow
from mesh.serving.errors import InvalidArgument, NotFound, PermissionDenied
from mesh.settings.common import KafkaSettings
from mesh.storage.paging import PageTokens
from oms.ops.v1 import ops_pb2
from oms.order.v1 import events_pb2, order_pb2
from testkit.topics import read_topic

pytestmark = pytest.mark.integration


class NoParked:
    async def list_parked(self, *, after_id: int, limit: int) -> list[ParkedRow]:
        return []

    async def republish(self, outbox_ids: Any) -> list[int]:
        return []


def dead_letter_headers(
    event_id: str, event_type: str, topic: str, offset: int, group: str = "inventory-svc"
) -> list[tuple[str, Any]]:
    """What the consumer writes: the original CloudEvents headers, then its error headers."""
    from datetime import UTC, datetime

    original = cloudevent_headers(event_id=event_id, event_type=event_type, source="/test", time=datetime.now(UTC))
    return [
        *original,
        ("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ("dlq_error", b"handler failed: boom"),
        ("dlq_error_type", b"RuntimeError"),
        ("dlq_original_topic", topic.encode()),
        ("dlq_original_partition", b"2"),
        ("dlq_original_offset", str(offset).encode()),
        ("dlq_attempts", b"5"),
        ("dlq_consumer_group", group.encode()),
    ]


@pytest.fixture
async def setup(
    kafka: KafkaSettings,
) -> AsyncIterator[tuple[KafkaSettings, KafkaProducer, OperationsServicer, list[str]]]:
    settings = kafka
    topics = Topics(settings.topic_prefix)
    producer = KafkaProducer(settings, client_id="dlq-test")
    await producer.start()
    event_ids = []
    for n in range(5):
        order_id = f"o-{uuid.uuid4().hex[:8]}"
        event_id = f"e-{n}-{uuid.uuid4().hex[:8]}"
        value = events_pb2.OrderPlaced(order=order_pb2.Order(order_id=order_id)).SerializeToString()
        event_type = "oms.order.v1.OrderPlaced"
        if n == 3:
            value = b"\xff\xffnot protobuf"  # poison that never decoded
        if n == 4:
            event_type = "oms.future.v9.Unknown"
        headers = dead_letter_headers(event_id, event_type, topics.name("orders"), 100 + n)
        await producer.send(Topics.dead_letter(topics.name("orders")), key=order_id, value=value, headers=headers)
        event_ids.append(event_id)
    # Another group reading the same topic dead-lettered one too: not this service's.
    theirs = dead_letter_headers("e-theirs", "oms.order.v1.OrderPlaced", topics.name("orders"), 7, group="notify-svc")
    await producer.send(Topics.dead_letter(topics.name("orders")), key="o-theirs", value=b"", headers=theirs)
    dead_letters = DeadLetters(
        settings,
        [topics.name("orders")],
        EventTypes.of([events_pb2.OrderPlaced]),
        producer,
        consumer_group="inventory-svc",
    )
    try:
        yield settings, producer, OperationsServicer(dead_letters, NoParked(), PageTokens(b"t" * 32)), event_ids
    finally:
        await producer.stop()


async def test_dead_letters_are_listed_decoded_page_by_page(setup: Any) -> None:
    settings, _, servicer, event_ids = setup
    seen: list[ops_pb2.DeadLetter] = []
    token = ""
    pages = 0
    while True:
        page = await servicer.ListDeadLetters(ops_pb2.ListDeadLettersRequest(page_size=2, page_token=token), None)
        seen.extend(page.dead_letters)
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3
    assert [d.event_id for d in seen] == event_ids
    first = seen[0]
    orders = Topics(settings.topic_prefix).name("orders")
    assert (first.ref.topic, first.ref.partition, first.ref.offset) == (f"{orders}.dlq", 0, 0)
    assert (first.error, first.error_type, first.attempts) == ("handler failed: boom", "RuntimeError", 5)
    assert (first.original_topic, first.original_partition, first.original_offset) == (orders, 2, 100)
    assert first.consumer_group == "inventory-svc"
    assert first.HasField("dead_lettered_at")
    decoded = events_pb2.OrderPlaced()
    assert first.event.Unpack(decoded)
    assert decoded.order.order_id == first.key
    assert not seen[3].HasField("event") and "does not decode" in seen[3].decode_error
    assert not seen[4].HasField("event") and "unknown event type" in seen[4].decode_error


async def test_a_filter_a_missing_dead_letter_and_a_forged_token(setup: Any) -> None:
    settings, _, servicer, _ = setup
    orders = Topics(settings.topic_prefix).name("orders")
    none = await servicer.ListDeadLetters(ops_pb2.ListDeadLettersRequest(original_topic="elsewhere"), None)
    assert list(none.dead_letters) == [] and none.next_page_token == ""
    one = await servicer.GetDeadLetter(ops_pb2.GetDeadLetterRequest(topic=f"{orders}.dlq", offset=1), None)
    assert one.dead_letter.ref.offset == 1
    with pytest.raises(NotFound):
        await servicer.GetDeadLetter(ops_pb2.GetDeadLetterRequest(topic=f"{orders}.dlq", offset=99), None)
    with pytest.raises(NotFound):
        await servicer.GetDeadLetter(ops_pb2.GetDeadLetterRequest(topic="someone-elses.dlq"), None)
    with pytest.raises(NotFound):  # notify's, not ours
        await servicer.GetDeadLetter(ops_pb2.GetDeadLetterRequest(topic=f"{orders}.dlq", offset=5), None)
    with pytest.raises(InvalidArgument):
        await servicer.ListDeadLetters(ops_pb2.ListDeadLettersRequest(page_token="forged"), None)
    # A token continues only the listing it came from, with the same filter.
    page = await servicer.ListDeadLetters(ops_pb2.ListDeadLettersRequest(page_size=1), None)
    assert page.next_page_token
    with pytest.raises(InvalidArgument):
        await servicer.ListDeadLetters(
            ops_pb2.ListDeadLettersRequest(page_token=page.next_page_token, original_topic=orders), None
        )


async def test_only_an_admin_may_read_them(setup: Any) -> None:
    _, _, servicer, _ = setup
    reset = principal._current.set(principal.Principal(id="c-1", roles=frozenset({"customer"})))
    try:
        with pytest.raises(PermissionDenied):
            await servicer.ListDeadLetters(ops_pb2.ListDeadLettersRequest(), None)
        with pytest.raises(PermissionDenied):
            await servicer.ReplayDeadLetters(ops_pb2.ReplayDeadLettersRequest(), None)
    finally:
        principal._current.reset(reset)


async def test_a_replay_publishes_the_original_on_its_topic(setup: Any) -> None:
    settings, _, servicer, event_ids = setup
    orders = Topics(settings.topic_prefix).name("orders")
    refs = [
        ops_pb2.DeadLetterRef(topic=f"{orders}.dlq", partition=0, offset=0),
        ops_pb2.DeadLetterRef(topic=f"{orders}.dlq", partition=0, offset=42),
        ops_pb2.DeadLetterRef(topic="not-ours.dlq", partition=0, offset=0),
    ]
    reply = await servicer.ReplayDeadLetters(ops_pb2.ReplayDeadLettersRequest(dead_letters=refs), None)
    assert [r.replayed for r in reply.results] == [True, False, False]
    assert (reply.results[0].original_topic, reply.results[0].event_id) == (orders, event_ids[0])

    [replayed] = await read_topic(settings.bootstrap, orders, at_least=1, timeout_s=20)
    assert replayed.headers["ce_id"] == event_ids[0]
    assert replayed.headers["ce_type"] == "oms.order.v1.OrderPlaced"
    assert replayed.headers["traceparent"].startswith("00-")
    assert replayed.headers["oms_replayed_from"] == f"{orders}.dlq/0/0"
    assert not [name for name in replayed.headers if name.startswith("dlq_")]
    assert events_pb2.OrderPlaced.FromString(replayed.value).order.order_id == replayed.key


async def test_a_page_stops_at_its_byte_budget_and_the_next_one_goes_on(
    setup: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, servicer, event_ids = setup
    monkeypatch.setattr(dead_letters_module, "PAGE_BYTES", 1)  # every dead letter is over it
    seen: list[str] = []
    token, pages = "", 0
    while True:
        page = await servicer.ListDeadLetters(ops_pb2.ListDeadLettersRequest(page_size=50, page_token=token), None)
        assert len(page.dead_letters) <= 1
        seen += [d.event_id for d in page.dead_letters]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == event_ids
    assert pages == 5
