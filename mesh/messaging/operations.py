"""The operator's RPCs every service serves: its dead letters and its parked outbox rows.

Each service declares the same RPCs as ``oms.<service>.v1.<Service>OperationsService`` over the
shared ``oms.ops.v1`` messages (the gateway routes by package); this module implements them
once. Every RPC is admin only: declared in the contract (``oms.options.v1.authorization``) and
checked here again, so a port without the auth interceptor's rule table still refuses others.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import grpc
from confluent_kafka import KafkaException
from google.protobuf import any_pb2
from sqlalchemy.ext.asyncio import AsyncEngine

from mesh.auth.principal import current_principal
from mesh.messaging.dead_letters import DeadLetterRecord, DeadLetters, DeadLetterUnavailable, EventTypes, Ref
from mesh.messaging.kafka import ConsumerSpec, KafkaProducer
from mesh.messaging.parked import ParkedEvents, ParkedRow, SqlParkedEvents
from mesh.serving.errors import InvalidArgument, NotFound, PermissionDenied, Unavailable
from mesh.serving.wire import timestamp
from mesh.settings.common import KafkaSettings
from mesh.storage.paging import PageTokens, page_size
from mesh.values.violations import FieldViolation
from oms.ops.v1 import ops_pb2

_TOKEN_KIND = "dead-letters"
_PARKED_TOKEN_KIND = "parked-events"


class OperationsServicer:
    """The five RPCs, for any service's generated ``...OperationsServiceServicer`` base."""

    def __init__(self, dead_letters: DeadLetters, parked: ParkedEvents, page_tokens: PageTokens) -> None:
        self._dead_letters = dead_letters
        self._parked = parked
        self._tokens = page_tokens

    async def ListDeadLetters(
        self, request: ops_pb2.ListDeadLettersRequest, context: grpc.aio.ServicerContext
    ) -> ops_pb2.ListDeadLettersResponse:
        _require_admin()
        limit = page_size(request.page_size)
        filters = {"original_topic": request.original_topic}
        position = self._tokens.decode(_TOKEN_KIND, request.page_token, (str,), filters=filters)
        positions = _positions(position[0] if position else None)
        page = await _off_loop(self._dead_letters.read_page, positions, limit, original_topic=request.original_topic)
        token = ""
        if page.next_positions is not None:
            # One text position (the next offset of each DLQ partition) fits a fixed token shape.
            text = json.dumps([[t, p, o] for (t, p), o in sorted(page.next_positions.items())], separators=(",", ":"))
            token = self._tokens.encode(_TOKEN_KIND, [text], filters=filters)
        return ops_pb2.ListDeadLettersResponse(
            dead_letters=[dead_letter_to_proto(r) for r in page.records], next_page_token=token
        )

    async def GetDeadLetter(
        self, request: ops_pb2.GetDeadLetterRequest, context: grpc.aio.ServicerContext
    ) -> ops_pb2.GetDeadLetterResponse:
        _require_admin()
        ref = _ref(request, "")
        if not self._dead_letters.owns(ref.topic):
            raise NotFound(f"this service has no dead-letter topic {ref.topic[:249]!r}")
        found = await _off_loop(self._dead_letters.read, [ref])
        if ref not in found:
            raise NotFound(f"no dead letter at {ref}")
        return ops_pb2.GetDeadLetterResponse(dead_letter=dead_letter_to_proto(found[ref]))

    async def ReplayDeadLetters(
        self, request: ops_pb2.ReplayDeadLettersRequest, context: grpc.aio.ServicerContext
    ) -> ops_pb2.ReplayDeadLettersResponse:
        _require_admin()
        if not request.dead_letters:
            raise InvalidArgument([FieldViolation("dead_letters", "name at least one dead letter")])
        refs = [_ref(each, f"dead_letters[{i}].") for i, each in enumerate(request.dead_letters)]
        found = await _off_loop(self._dead_letters.read, refs)
        outcomes = await self._dead_letters.replay(found, refs)
        return ops_pb2.ReplayDeadLettersResponse(
            results=[
                ops_pb2.ReplayResult(
                    ref=_ref_to_proto(o.ref),
                    replayed=o.replayed,
                    original_topic=o.original_topic,
                    event_id=o.event_id,
                    error=o.error,
                )
                for o in outcomes
            ]
        )

    async def ListParkedEvents(
        self, request: ops_pb2.ListParkedEventsRequest, context: grpc.aio.ServicerContext
    ) -> ops_pb2.ListParkedEventsResponse:
        _require_admin()
        limit = page_size(request.page_size)
        position = self._tokens.decode(_PARKED_TOKEN_KIND, request.page_token, (int,))
        after = position[0] if position else 0
        rows = await self._parked.list_parked(after_id=after, limit=limit + 1)
        token = self._tokens.encode(_PARKED_TOKEN_KIND, [rows[limit - 1].outbox_id]) if len(rows) > limit else ""
        return ops_pb2.ListParkedEventsResponse(
            parked_events=[parked_to_proto(r) for r in rows[:limit]], next_page_token=token
        )

    async def RepublishParkedEvents(
        self, request: ops_pb2.RepublishParkedEventsRequest, context: grpc.aio.ServicerContext
    ) -> ops_pb2.RepublishParkedEventsResponse:
        _require_admin()
        ids = list(request.outbox_ids)
        if not ids:
            raise InvalidArgument([FieldViolation("outbox_ids", "name at least one outbox row")])
        for i, outbox_id in enumerate(ids):
            if outbox_id <= 0:
                raise InvalidArgument([FieldViolation(f"outbox_ids[{i}]", "must be positive")])
        republished = await self._parked.republish(ids)
        return ops_pb2.RepublishParkedEventsResponse(outbox_ids=republished)


def operations_servicer(
    base: type[Any], dead_letters: DeadLetters, parked: ParkedEvents, page_tokens: PageTokens
) -> Any:
    """An instance of the generated (abstract) servicer ``base`` whose RPCs are ours, for its
    ``add_…_to_server``."""
    cls: type[Any] = type(f"{base.__name__}Impl", (OperationsServicer, base), {})
    return cls(dead_letters, parked, page_tokens)


def service_operations(
    base: type[Any],
    kafka: KafkaSettings,
    consumer: ConsumerSpec,
    producer: KafkaProducer,
    engine: AsyncEngine,
    page_tokens: PageTokens,
) -> Any:
    """The operator's servicer of one service: the dead letters of what ``consumer`` reads
    (replayed with ``producer``) and the parked rows of the service's own database."""
    dead_letters = DeadLetters(
        kafka, consumer.topics, EventTypes.of(consumer.handlers), producer, consumer_group=consumer.group_id
    )
    return operations_servicer(base, dead_letters, SqlParkedEvents(engine), page_tokens)


def dead_letter_to_proto(record: DeadLetterRecord) -> ops_pb2.DeadLetter:
    headers = record.headers
    message = ops_pb2.DeadLetter(
        ref=_ref_to_proto(record.ref),
        key=record.key,
        event_id=headers.get("ce_id", ""),
        event_type=headers.get("ce_type", ""),
        decode_error=record.decode_error,
        error=headers.get("dlq_error", ""),
        error_type=headers.get("dlq_error_type", ""),
        original_topic=record.original_topic,
        original_partition=record.header_int("dlq_original_partition"),
        original_offset=record.header_int("dlq_original_offset"),
        attempts=record.header_int("dlq_attempts"),
        consumer_group=headers.get("dlq_consumer_group", ""),
        size_bytes=len(record.value),
        headers=headers,
    )
    if record.event is not None:
        packed = any_pb2.Any()
        packed.Pack(record.event)
        message.event.CopyFrom(packed)
    if record.timestamp is not None:
        message.dead_lettered_at.FromDatetime(record.timestamp)
    return message


def parked_to_proto(row: ParkedRow) -> ops_pb2.ParkedEvent:
    message = ops_pb2.ParkedEvent(
        outbox_id=row.outbox_id,
        event_id=row.event_id,
        event_type=row.event_type,
        topic=row.topic,
        key=row.key,
        error=row.error,
        size_bytes=row.size_bytes,
    )
    if row.parked_at is not None:
        message.parked_at.CopyFrom(timestamp(row.parked_at))
    message.created_at.CopyFrom(timestamp(row.created_at))
    return message


def _require_admin() -> None:
    principal = current_principal()
    # None: no auth interceptor on this port (authentication switched off, as in some tests).
    if principal is not None and not principal.is_admin:
        raise PermissionDenied("operator tools require the 'admin' role")


async def _off_loop(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Kafka reads block (librdkafka); they run in a thread, and a broker that does not answer is
    UNAVAILABLE, not INTERNAL."""
    try:
        return await asyncio.to_thread(func, *args, **kwargs)
    except (DeadLetterUnavailable, KafkaException) as exc:
        raise Unavailable(f"Kafka could not be read: {str(exc)[:200]}") from exc


def _ref(message: ops_pb2.DeadLetterRef | ops_pb2.GetDeadLetterRequest, prefix: str) -> Ref:
    violations = []
    if not message.topic:
        violations.append(FieldViolation(f"{prefix}topic", "must name a dead-letter topic"))
    elif len(message.topic) > 249:
        violations.append(FieldViolation(f"{prefix}topic", "at most 249 characters"))
    if message.partition < 0:
        violations.append(FieldViolation(f"{prefix}partition", "must not be negative"))
    if message.offset < 0:
        violations.append(FieldViolation(f"{prefix}offset", "must not be negative"))
    if violations:
        raise InvalidArgument(violations)
    return Ref(message.topic, message.partition, message.offset)


def _ref_to_proto(ref: Ref) -> ops_pb2.DeadLetterRef:
    return ops_pb2.DeadLetterRef(topic=ref.topic, partition=ref.partition, offset=ref.offset)


def _positions(text: str | None) -> dict[tuple[str, int], int]:
    """A page token's positions: JSON ``[[topic, partition, next_offset], ...]``."""
    if text is None:
        return {}
    try:
        items = json.loads(text)
    except ValueError:
        raise _bad_token() from None
    positions: dict[tuple[str, int], int] = {}
    for item in items if isinstance(items, list) else [None]:
        if (
            not isinstance(item, list)
            or len(item) != 3
            or not isinstance(item[0], str)
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in item[1:])
        ):
            raise _bad_token()
        positions[(item[0], item[1])] = item[2]
    return positions


def _bad_token() -> InvalidArgument:
    return InvalidArgument([FieldViolation("page_token", "not a token from a previous page of this listing")])
