"""The transcoding the seed documents' URLs need, generic in the gateway: a body that names a
repeated field (a bare JSON array), ``response_body`` (a bare map), and enum short names."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
import pytest

from gateway.descriptors import discover
from gateway.enum_aliases import enum_prefix, enum_value_named, expand_enum_aliases
from gateway.transcoding import to_json_dict
from oms.inventory.v1 import inventory_pb2
from oms.order.v1 import order_pb2
from tests.unit.gateway.conftest import Recorder


def _check_binding(template: str) -> Any:
    found = [b for b in discover(["inventory"]) if b.template.source == template]
    assert len(found) == 1, template
    return found[0]


async def test_a_bare_array_body_fills_the_repeated_field_it_names(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    async def answer(request: Any, context: grpc.aio.ServicerContext) -> Any:
        return inventory_pb2.CheckStockResponse(available={"id-1": 10, "id-2": 0}, unknown_product_ids=["id-3"])

    recorder.behaviors["CheckStock"] = answer
    reply = await client.post("/api/inventory/check", json=["id-1", "id-2", "id-3"])
    assert reply.status_code == 200, reply.text
    assert list(recorder.last("CheckStock").request.product_ids) == ["id-1", "id-2", "id-3"]
    # response_body: the bare map, not the response message (int64 values are JSON strings).
    assert reply.json() == {"id-1": "10", "id-2": "0"}
    # The AIP form of the same RPC answers the whole message.
    whole = await client.post("/products:checkStock", json={"productIds": ["id-1"]})
    assert whole.json() == {"available": {"id-1": "10", "id-2": "0"}, "unknownProductIds": ["id-3"]}


@pytest.mark.parametrize("body", [{"productIds": ["id-1"]}, "id-1", [1, 2], [["id-1"]]])
async def test_a_body_that_is_not_the_named_fields_value_is_400(client: httpx.AsyncClient, body: object) -> None:
    reply = await client.post("/api/inventory/check", json=body)
    assert reply.status_code == 400, reply.text
    assert reply.json()["code"] == 3


def test_an_empty_response_body_field_is_its_empty_form_not_null() -> None:
    binding = _check_binding("/api/inventory/check")
    empty = inventory_pb2.CheckStockResponse(unknown_product_ids=["id-3"])
    assert to_json_dict(empty, binding, emit_unpopulated=False) == {}
    assert to_json_dict(empty, binding, emit_unpopulated=True) == {}


def test_enum_prefixes_follow_the_value_naming_rule() -> None:
    assert enum_prefix(order_pb2.OrderStatus.DESCRIPTOR) == "ORDER_STATUS_"
    status = order_pb2.OrderStatus.DESCRIPTOR
    assert enum_value_named(status, "PAID").number == order_pb2.ORDER_STATUS_PAID  # type: ignore[union-attr]
    assert enum_value_named(status, "ORDER_STATUS_PAID").number == order_pb2.ORDER_STATUS_PAID  # type: ignore[union-attr]
    assert enum_value_named(status, "paid") is None  # case is kept, as proto3 JSON does
    assert enum_value_named(status, "") is None
    assert enum_value_named(status, "STATUS_PAID") is None


def test_short_names_are_expanded_in_nested_and_repeated_fields_only_where_they_are_enums() -> None:
    document: dict[str, Any] = {"status": "SHIPPED", "reason": "PAID", "order_id": "CONFIRMED"}
    expand_enum_aliases(document, order_pb2.UpdateOrderStatusRequest.DESCRIPTOR)
    assert document == {"status": "ORDER_STATUS_SHIPPED", "reason": "PAID", "order_id": "CONFIRMED"}
    untouched: dict[str, Any] = {"status": 4, "nope": "PAID"}
    expand_enum_aliases(untouched, order_pb2.UpdateOrderStatusRequest.DESCRIPTOR)
    assert untouched == {"status": 4, "nope": "PAID"}


async def test_seed_status_updates_take_the_short_status_name(client: httpx.AsyncClient, recorder: Recorder) -> None:
    for path in ("/api/orders/o-1/status", "/orders/o-1/update_status"):
        reply = await client.put(path, json={"status": "PAID"})
        assert reply.status_code == 200, reply.text
        request = recorder.last("UpdateOrderStatus").request
        assert (request.order_id, request.status) == ("o-1", order_pb2.ORDER_STATUS_PAID)
    listed = await client.get("/api/orders", params={"status": "SHIPPED"})
    assert listed.status_code == 200, listed.text
    assert recorder.last("ListOrders").request.status == order_pb2.ORDER_STATUS_SHIPPED


@pytest.mark.parametrize("status", ["paid", "NOPE", "STATUS_PAID"])
async def test_names_that_are_no_value_are_still_400(client: httpx.AsyncClient, status: str) -> None:
    reply = await client.put("/api/orders/o-1/status", json={"status": status})
    assert reply.status_code == 400, reply.text
    assert reply.json()["code"] == 3
    query = await client.get("/api/orders", params={"status": status})
    assert query.status_code == 400, query.text
