"""The markers in test-made names, and when a name counts as stale (testkit.leftovers)."""

from __future__ import annotations

import os
import subprocess
import time

from testkit.leftovers import (
    MIN_AGE_S,
    NAMESPACE_FALLBACK_AGE_S,
    Marker,
    is_stale,
    marker_at_start,
    marker_in,
    owner_alive,
)


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_every_name_form_carries_the_marker_back() -> None:
    marker = Marker.new()
    assert marker_at_start(marker.topic_prefix + "orders.dlq") == marker
    assert marker_at_start(marker.database("order_svc")) == marker
    assert marker.database("order_svc").endswith("_order")
    assert marker_in("inventory-svc" + marker.group_suffix("run7")) == marker
    assert marker_in(f"reader-{marker.topic_prefix}orders-0a1b2c3d") == marker


def test_names_tests_did_not_make_have_no_marker() -> None:
    for name in ("orders", "oms_order", "t0123456789.orders", "t_order_0123456789", "inventory-svc", "postgres"):
        assert marker_at_start(name) is None and marker_in(name) is None, name
    # Within a longer word the marker-like text is not ours either.
    assert marker_in("xt-1764644042-12-abcdef") is None
    assert marker_at_start("t-1764644042-12-abcdefgh") is None


def test_a_live_owner_is_never_stale_however_old_within_a_day() -> None:
    started_before = Marker(int(time.time()), os.getpid(), "abcdef")
    assert owner_alive(started_before)
    assert not is_stale(started_before, now=time.time() + NAMESPACE_FALLBACK_AGE_S - 60)
    assert is_stale(started_before, now=time.time() + NAMESPACE_FALLBACK_AGE_S + 60)


def test_a_dead_owner_is_stale_once_the_minimum_age_has_passed() -> None:
    marker = Marker(int(time.time()), dead_pid(), "abcdef")
    assert not owner_alive(marker)
    assert not is_stale(marker, now=marker.created + MIN_AGE_S - 1)
    assert is_stale(marker, now=marker.created + MIN_AGE_S + 1)


def test_a_reused_pid_does_not_keep_a_dead_owners_names() -> None:
    # Our pid, but a name made long before this process started: its maker was another process.
    marker = Marker(int(time.time()) - 3 * 3600, os.getpid(), "abcdef")
    assert not owner_alive(marker)
    assert is_stale(marker)
