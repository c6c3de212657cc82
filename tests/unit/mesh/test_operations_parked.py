"""The parked-event RPCs over an in-memory store: paging, validation, admin only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from mesh.auth import principal
from mesh.messaging.operations import OperationsServicer
from mesh.messaging.parked import ParkedRow
from mesh.serving.errors import InvalidArgument, PermissionDenied
from mesh.storage.paging import PageTokens
from oms.ops.v1 import ops_pb2

NOW = datetime(2026, 12, 1, tzinfo=UTC)


class MemoryParked:
    def __init__(self, ids: Sequence[int]) -> None:
        self.parked = set(ids)

    async def list_parked(self, *, after_id: int, limit: int) -> list[ParkedRow]:
        return [
            ParkedRow(i, f"e-{i}", "oms.order.v1.OrderCancelled", "orders", f"o-{i}", "MSG_SIZE_TOO_LARGE", NOW, NOW, 9)
            for i in sorted(self.parked)
            if i > after_id
        ][:limit]

    async def republish(self, outbox_ids: Sequence[int]) -> list[int]:
        done = sorted(set(outbox_ids) & self.parked)
        self.parked -= set(done)
        return done


def servicer(store: MemoryParked) -> OperationsServicer:
    return OperationsServicer(dead_letters=None, parked=store, page_tokens=PageTokens(b"t" * 32))  # type: ignore[arg-type]


async def test_parked_events_are_listed_page_by_page() -> None:
    ops = servicer(MemoryParked([3, 5, 8, 13, 21]))
    seen: list[int] = []
    token, pages = "", 0
    while True:
        page = await ops.ListParkedEvents(ops_pb2.ListParkedEventsRequest(page_size=2, page_token=token), None)
        seen += [p.outbox_id for p in page.parked_events]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert (seen, pages) == ([3, 5, 8, 13, 21], 3)
    first = (await ops.ListParkedEvents(ops_pb2.ListParkedEventsRequest(), None)).parked_events[0]
    assert (first.error, first.size_bytes, first.parked_at.ToDatetime(tzinfo=UTC)) == ("MSG_SIZE_TOO_LARGE", 9, NOW)


@pytest.mark.parametrize("token", ["forged", "eyJrIjoicGFya2VkLWV2ZW50cyIsInAiOlsiMSJdfQ"])
async def test_a_forged_token_is_invalid_argument(token: str) -> None:
    with pytest.raises(InvalidArgument):
        await servicer(MemoryParked([1])).ListParkedEvents(ops_pb2.ListParkedEventsRequest(page_token=token), None)


async def test_republish_returns_only_what_was_parked() -> None:
    store = MemoryParked([1, 2])
    reply = await servicer(store).RepublishParkedEvents(ops_pb2.RepublishParkedEventsRequest(outbox_ids=[2, 7]), None)
    assert list(reply.outbox_ids) == [2] and store.parked == {1}


@pytest.mark.parametrize("ids", [[], [0], [-4]])
async def test_republish_needs_positive_ids(ids: list[int]) -> None:
    with pytest.raises(InvalidArgument):
        await servicer(MemoryParked([1])).RepublishParkedEvents(
            ops_pb2.RepublishParkedEventsRequest(outbox_ids=ids), None
        )


@pytest.mark.parametrize(
    ("rpc", "request_message"),
    [
        ("ListParkedEvents", ops_pb2.ListParkedEventsRequest()),
        ("RepublishParkedEvents", ops_pb2.RepublishParkedEventsRequest(outbox_ids=[1])),
    ],
)
async def test_a_customer_is_refused(rpc: str, request_message: Any) -> None:
    store = MemoryParked([1])
    reset = principal._current.set(principal.Principal(id="c-1", roles=frozenset({"customer"})))
    try:
        with pytest.raises(PermissionDenied):
            await getattr(servicer(store), rpc)(request_message, None)
    finally:
        principal._current.reset(reset)
    assert store.parked == {1}
