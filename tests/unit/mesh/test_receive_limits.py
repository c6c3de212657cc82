"""The gRPC servers' receive limit is sized to the largest request the declared bounds allow."""

from __future__ import annotations

from mesh.serving.bounds import BYTES_PER_CHAR, largest_encoding, rpc_methods
from mesh.serving.server import MAX_REQUEST_BYTES
from oms.order.v1 import order_pb2

WIDE = "😀"  # four bytes in UTF-8: the worst case per character


def largest_place_order() -> order_pb2.PlaceOrderRequest:
    line = order_pb2.OrderLine(product_id=WIDE * 128, quantity=-1)  # a negative int32 takes 10 bytes
    return order_pb2.PlaceOrderRequest(customer_id=WIDE * 128, items=[line] * 100)


def test_the_computed_size_of_a_request_is_an_upper_bound_of_a_real_one() -> None:
    real = largest_place_order().ByteSize()
    computed = largest_encoding(order_pb2.PlaceOrderRequest.DESCRIPTOR)
    assert real <= computed < real * 1.05
    assert len(WIDE.encode()) == BYTES_PER_CHAR


def test_every_legitimate_request_fits_the_receive_limit_and_the_limit_is_sized_to_them() -> None:
    sizes: dict[str, int] = {d.full_name: largest_encoding(d) for d in (m.input_type for m in rpc_methods())}
    largest = max(sizes.values())
    assert largest <= MAX_REQUEST_BYTES, max(sizes, key=sizes.__getitem__)
    assert largest_place_order().ByteSize() <= MAX_REQUEST_BYTES
    # Sized to the contracts, not a round "big enough" number: well under gRPC's usual 4-8 MiB.
    assert 4 * largest >= MAX_REQUEST_BYTES
    assert MAX_REQUEST_BYTES <= 1024 * 1024
