"""Behaviour where grpc-gateway v2 is the reference: PATCH masks of leaf paths, NDJSON error
framing, unpopulated fields in error details, client-worded 400s, HEAD on GET routes."""

from __future__ import annotations

import httpx
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2

from gateway.transcoding import body_leaf_paths
from oms.inventory.v1 import inventory_pb2
from tests.unit.gateway.conftest import Recorder

# --- 1. PATCH without a mask: the mask names the body's leaves (FieldMaskFromRequestBody) ----


def test_leaf_paths_descend_into_messages_and_stop_at_timestamps() -> None:
    body = {"price": {"currencyCode": "EUR", "units": "5"}, "createTime": "2026-01-01T00:00:00Z", "active": False}
    paths = body_leaf_paths(body, inventory_pb2.Product.DESCRIPTOR)
    assert sorted(paths) == ["active", "create_time", "price.currency_code", "price.units"]


def test_an_empty_object_or_null_is_the_field_itself() -> None:
    assert body_leaf_paths({"price": {}}, inventory_pb2.Product.DESCRIPTOR) == ["price"]
    assert body_leaf_paths({"price": None}, inventory_pb2.Product.DESCRIPTOR) == ["price"]


def test_repeated_and_map_fields_are_leaves() -> None:
    info = {"reason": "X", "metadata": {"a": "1", "b": "2"}}
    assert sorted(body_leaf_paths(info, error_details_pb2.ErrorInfo.DESCRIPTOR)) == ["metadata", "reason"]
    violations = {"fieldViolations": [{"field": "a", "description": "b"}]}
    assert body_leaf_paths(violations, error_details_pb2.BadRequest.DESCRIPTOR) == ["field_violations"]


def test_a_struct_is_followed_along_its_json_keys() -> None:
    value = {"structValue": {"colour": {"hue": 1}, "size": 2}}
    paths = body_leaf_paths(value, struct_pb2.Value.DESCRIPTOR)
    assert sorted(paths) == ["struct_value.colour.hue", "struct_value.size"]


async def test_patch_of_a_nested_part_names_only_that_part(client: httpx.AsyncClient, recorder: Recorder) -> None:
    response = await client.patch("/products/p-1", json={"price": {"units": "5"}})
    assert response.status_code == 200, response.text
    request = recorder.last("UpdateProduct").request
    assert list(request.update_mask.paths) == ["price.units"]
    assert request.product.product_id == "p-1"


async def test_patch_of_a_flat_message_names_its_fields(client: httpx.AsyncClient, recorder: Recorder) -> None:
    await client.patch("/customers/c-1", json={"email": "a@example.com", "name": "Ada"})
    assert list(recorder.last("UpdateCustomer").request.update_mask.paths) == ["email", "name"]
