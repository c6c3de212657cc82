"""mesh.serving.stream_slots: caps per caller and per process, and the RESOURCE_EXHAUSTED status they raise."""

from __future__ import annotations

import contextlib

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2

from mesh.serving.errors import ResourceExhausted
from mesh.serving.grpc_errors import to_status
from mesh.serving.stream_slots import StreamSlots, stream_end


def test_a_caller_gets_at_most_its_share_and_others_keep_theirs() -> None:
    slots = StreamSlots(max_total=10, max_per_key=2, what="streams")
    with contextlib.ExitStack() as held:
        for _ in range(2):
            held.enter_context(slots.claim("c-1"))
        with pytest.raises(ResourceExhausted) as caught, slots.claim("c-1"):
            pass
        assert [v.subject for v in caught.value.violations] == ["caller"]
        with slots.claim("c-2"):
            assert (slots.total, slots.open_for("c-1"), slots.open_for("c-2")) == (3, 2, 1)
    assert slots.total == 0 and slots.open_for("c-1") == 0


def test_the_process_cap_counts_every_caller_and_callers_without_a_key() -> None:
    slots = StreamSlots(max_total=2, max_per_key=5, what="streams")
    with slots.claim("c-1"), slots.claim(None):
        with pytest.raises(ResourceExhausted) as caught, slots.claim("c-2"):
            pass
        assert [v.subject for v in caught.value.violations] == ["process"]
    with slots.claim("c-2"):
        assert slots.total == 1


def test_a_refused_claim_holds_nothing() -> None:
    slots = StreamSlots(max_total=1, max_per_key=1, what="streams")
    with slots.claim("c-1"):
        for _ in range(3):
            with pytest.raises(ResourceExhausted), slots.claim("c-1"):
                pass
        assert slots.total == 1
    assert slots.total == 0


def test_the_slot_is_freed_when_the_stream_fails() -> None:
    slots = StreamSlots(max_total=1, max_per_key=1, what="streams")
    with pytest.raises(RuntimeError), slots.claim("c-1"):
        raise RuntimeError("stream broke")
    assert slots.total == 0


def test_resource_exhausted_carries_quota_failure_and_retry_info() -> None:
    slots = StreamSlots(max_total=1, max_per_key=1, what="WatchOrder streams", retry_after_s=7)
    long_id = "a-very-long-caller-id-" * 20
    with slots.claim(long_id), pytest.raises(ResourceExhausted) as caught, slots.claim("someone-else"):
        pass
    error = caught.value
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    status = to_status(error)
    assert status.code == code_pb2.RESOURCE_EXHAUSTED
    assert "a-very-long" not in status.message  # never echoes the caller's id
    info, quota, retry = error_details_pb2.ErrorInfo(), error_details_pb2.QuotaFailure(), error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(info) and info.reason == "TOO_MANY_STREAMS"
    assert status.details[1].Unpack(quota)
    assert quota.violations[0].subject == "process"
    assert "WatchOrder streams" in quota.violations[0].description
    assert status.details[2].Unpack(retry) and retry.retry_delay.seconds == 7


def test_the_stream_ends_at_the_earlier_of_lifetime_and_token_expiry() -> None:
    by_token = stream_end(loop_now=100.0, wall_now=1_000.0, lifetime_s=900, token_expires_at=1_060.0)
    assert (by_token.at, by_token.token_expired) == (160.0, True)
    by_lifetime = stream_end(loop_now=100.0, wall_now=1_000.0, lifetime_s=30, token_expires_at=1_060.0)
    assert (by_lifetime.at, by_lifetime.token_expired) == (130.0, False)
    no_token = stream_end(loop_now=100.0, wall_now=1_000.0, lifetime_s=30, token_expires_at=None)
    assert (no_token.at, no_token.token_expired) == (130.0, False)
