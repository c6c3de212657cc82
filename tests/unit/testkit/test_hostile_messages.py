"""The hostile-request generator itself: it finds every RPC and builds what it promises."""

from __future__ import annotations

import pytest
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, find, given, settings

from testkit.hostile_messages import (
    WEDGE_LENGTH,
    Drawn,
    Pools,
    Rpc,
    contract_rpcs,
    fixed_requests,
    not_protobuf,
    requests,
    strings_in,
    summarize,
)

RPCS = contract_rpcs()
POOLS = Pools(ids={"order_id": ["o-1"], "product_id": ["p-1"]}, page_tokens=["eyJrIjoib3JkZXJzIiwicCI6WyJ4Il19"])
QUICK = settings(
    max_examples=25, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


def test_every_rpc_of_the_contracts_is_found() -> None:
    # The walk over oms.*_pb2 is what includes new RPCs automatically: it must find these.
    names = {rpc.name for rpc in RPCS}
    expected = {
        "OrderService.PlaceOrder",
        "OrderService.WatchOrder",
        "CustomerService.UpdateCustomer",
        "InventoryService.AddStock",
        "NotificationService.ListNotifications",
    }
    assert expected <= names, names
    assert len(names) == len(RPCS)
    watch = next(r for r in RPCS if r.name == "OrderService.WatchOrder")
    assert watch.server_streaming and watch.reads_only
    assert not next(r for r in RPCS if r.name == "OrderService.PlaceOrder").reads_only


@pytest.mark.parametrize("rpc", RPCS, ids=lambda rpc: rpc.name)
def test_generated_requests_are_messages_of_the_rpcs_request_type(rpc: Rpc) -> None:
    @QUICK
    @given(requests(rpc.method.input_type, POOLS))
    def check(drawn: Drawn) -> None:
        assert isinstance(drawn.value, rpc.request_type)
        rpc.request_type.FromString(drawn.value.SerializeToString())

    check()


@pytest.mark.parametrize("rpc", RPCS, ids=lambda rpc: rpc.name)
def test_fixed_requests_push_every_field_to_an_extreme(rpc: Rpc) -> None:
    empty, wedge, *_ = fixed_requests(rpc.method.input_type, POOLS)
    assert empty.value.ByteSize() == 0
    strings = list(strings_in(wedge.value))
    if any(f.type == f.TYPE_STRING for f in rpc.method.input_type.fields):
        assert strings and all(len(s) == WEDGE_LENGTH or s in ("o-1", "p-1") for s in strings), summarize(wedge.value)


def test_oversized_values_and_long_lists_are_drawn_with_their_class() -> None:
    place = next(r for r in RPCS if r.name == "OrderService.PlaceOrder")
    strategy = requests(place.method.input_type, POOLS)

    def classes_of(drawn: Drawn) -> set[str]:
        return {c.split(": ", 1)[1].split(" x ")[-1] for c in drawn.classes}

    # A targeted search per class, not a tally of a fixed number of draws: which classes a run of
    # N draws happens to hit depended on what ran before it in the same process.
    search = settings(max_examples=5000, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    for wanted in ("empty", "nul text", "astral text", "no entries"):
        find(strategy, lambda d, w=wanted: w in classes_of(d), settings=search)  # NoSuchExample fails the test
    find(strategy, lambda d: any(c.endswith("entries") and c[0].isdigit() for c in classes_of(d)), settings=search)
    find(strategy, lambda d: any("edge" in c for c in classes_of(d)), settings=search)


@QUICK
@given(not_protobuf())
def test_crafted_bytes_do_not_decode_as_a_typical_request(case: tuple[str, bytes]) -> None:
    kind, payload = case
    get = next(r for r in RPCS if r.name == "OrderService.GetOrder").request_type
    if kind in (
        "invalid UTF-8 in field 1",
        "surrogate (CESU-8) in field 1",
        "truncated varint",
        "deeply nested groups",
    ):
        with pytest.raises(DecodeError):
            get.FromString(payload)


def test_a_summary_elides_long_values() -> None:
    cancel = next(r for r in RPCS if r.name == "OrderService.CancelOrder")
    _, wedge, *_ = fixed_requests(cancel.method.input_type, POOLS)
    text = summarize(wedge.value)
    assert f"({WEDGE_LENGTH} chars)" in text and len(text) < 200, text
