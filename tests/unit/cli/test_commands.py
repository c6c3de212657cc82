"""Each command against fakes of the services: what it sends, what it prints, how it fails."""

from __future__ import annotations

import json
import threading
import time

import pytest

from mesh.auth.settings import AuthSettings
from mesh.auth.verification import TokenVerifier
from mesh.cli import main
from oms.inventory.v1 import inventory_pb2
from oms.notify.v1 import notify_pb2
from oms.order.v1 import order_pb2
from tests.unit.cli.fakes import FakeMesh, order

Capture = pytest.CaptureFixture[str]


def run(capsys: Capture, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_orders_list_pages_through_and_prints_json(fake: FakeMesh, capsys: Capture) -> None:
    status, out, _ = run(capsys, "orders", "list", "--limit", "3", "--json")
    assert status == 0
    assert [o["order_id"] for o in json.loads(out)["orders"]] == ["o-0", "o-1", "o-2"]
    assert [r.page_token for r in fake.seen.requests["ListOrders"]] == ["", "2"]  # the fake sends 2 a page


def test_orders_list_filters_and_prints_a_table(fake: FakeMesh, capsys: Capture) -> None:
    status, out, _ = run(capsys, "orders", "list", "--customer", "c-1", "--status", "pending")
    assert status == 0
    [request, *_] = fake.seen.requests["ListOrders"]
    assert (request.customer_id, request.status) == ("c-1", order_pb2.ORDER_STATUS_PENDING)
    header, first, *_ = out.splitlines()
    assert header.split() == ["ORDER", "CUSTOMER", "STATUS", "ITEMS", "TOTAL", "CREATED", "(UTC)", "REASON"]
    assert first.split() == ["o-0", "c-1", "PENDING", "2", "25.00", "EUR"]
    assert out.endswith("5 order(s)\n")


def test_orders_show_prints_the_items_with_their_prices(fake: FakeMesh, capsys: Capture) -> None:
    status, out, _ = run(capsys, "orders", "show", "o-1")
    assert status == 0
    assert "status         PENDING" in out
    assert any(line.split() == ["p-1", "Widget", "2", "12.50", "EUR", "25.00", "EUR"] for line in out.splitlines())


def test_a_missing_order_is_one_line_on_stderr_and_exit_1(fake: FakeMesh, capsys: Capture) -> None:
    status, out, err = run(capsys, "orders", "show", "o-404")
    assert (status, out) == (1, "")
    assert err == f"oms orders: NOT_FOUND: order o-404 not found ({fake.address})\n"


def test_set_status_takes_the_short_name_and_prints_field_violations(fake: FakeMesh, capsys: Capture) -> None:
    status, out, _ = run(capsys, "orders", "set-status", "o-1", "Paid", "--reason", "wire received", "--json")
    assert status == 0 and json.loads(out)["status"] == "ORDER_STATUS_PAID"
    request = fake.seen.requests["UpdateOrderStatus"][0]
    assert (request.status, request.reason) == (order_pb2.ORDER_STATUS_PAID, "wire received")

    status, out, err = run(capsys, "orders", "set-status", "o-1", "ORDER_STATUS_PENDING")
    assert (status, out) == (1, "")
    assert err.splitlines() == [
        f"oms orders: INVALID_ARGUMENT: invalid request: status ({fake.address})",
        "  status: an order cannot go back to PENDING",
    ]
    assert "Traceback" not in err


def test_an_unknown_status_is_a_usage_error(fake: FakeMesh, capsys: Capture) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["orders", "set-status", "o-1", "teleported"])
    assert exited.value.code == 2
    assert "'teleported' is not one of pending, confirmed" in capsys.readouterr().err
    assert "UpdateOrderStatus" not in fake.seen.requests


def test_cancel_sends_the_reason(fake: FakeMesh, capsys: Capture) -> None:
    status, out, _ = run(capsys, "orders", "cancel", "o-2", "--reason", "customer called")
    assert status == 0 and "status         CANCELLED" in out
    assert fake.seen.requests["CancelOrder"][0].reason == "customer called"


def test_watch_stops_at_a_final_state_and_cancels_the_stream(fake: FakeMesh, capsys: Capture) -> None:
    states = [order_pb2.ORDER_STATUS_PENDING, order_pb2.ORDER_STATUS_CONFIRMED, order_pb2.ORDER_STATUS_CANCELLED]
    fake.orders.watch_scripts = [[order("o-1", s, version=n) for n, s in enumerate(states, 1)]]
    started = time.monotonic()
    status, out, _ = run(capsys, "orders", "watch", "o-1", "--json")
    assert status == 0
    assert time.monotonic() - started < 5  # did not wait for the fake to end the stream
    assert [json.loads(line)["status"] for line in out.splitlines()] == [
        "ORDER_STATUS_PENDING",
        "ORDER_STATUS_CONFIRMED",
        "ORDER_STATUS_CANCELLED",
    ]


def test_watch_reopens_a_stream_the_server_ended_before_a_final_state(fake: FakeMesh, capsys: Capture) -> None:
    pending = order("o-1", order_pb2.ORDER_STATUS_PENDING, 1)
    confirmed = order("o-1", order_pb2.ORDER_STATUS_CONFIRMED, 2)
    delivered = order("o-1", order_pb2.ORDER_STATUS_DELIVERED, 5)
    fake.orders.watch_scripts = [[pending, confirmed], [confirmed, delivered]]
    fake.orders.watch_ends_early = {0}
    status, out, _ = run(capsys, "orders", "watch", "o-1")
    assert status == 0
    assert [line.split()[-1] for line in out.splitlines()] == ["PENDING", "CONFIRMED", "DELIVERED"]
    assert len(fake.seen.requests["WatchOrder"]) == 2


def test_watch_ends_on_ctrl_c_with_status_130(fake: FakeMesh, capsys: Capture) -> None:
    fake.orders.watch_scripts = [[order("o-1")]]
    # Ctrl-C as the terminal sends it: SIGINT to this process once the first state is printed.
    import _thread

    def interrupt() -> None:
        deadline = time.monotonic() + 5
        while "WatchOrder" not in fake.seen.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        _thread.interrupt_main()

    threading.Thread(target=interrupt, daemon=True).start()
    status, out, _ = run(capsys, "orders", "watch", "o-1")
    assert status == 130
    assert out.split()[-1] == "PENDING"


def test_the_token_is_the_flag_else_the_environment_else_a_minted_admin(
    fake: FakeMesh, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, "products", "list", "--token", "from-flag")
    monkeypatch.setenv("OMS_TOKEN", "from-env")
    run(capsys, "products", "list")
    monkeypatch.delenv("OMS_TOKEN")
    run(capsys, "products", "list")
    flag, env, minted = fake.seen.tokens
    assert (flag, env) == ("Bearer from-flag", "Bearer from-env")
    principal = TokenVerifier(AuthSettings()).verify(minted.removeprefix("Bearer "))
    assert principal.roles == frozenset({"admin"})


def test_stock_show_add_and_audit(fake: FakeMesh, capsys: Capture) -> None:
    status, out, _ = run(capsys, "stock", "show", "p-1")
    assert status == 0
    assert out.splitlines()[1].split() == ["p-1", "10", "3", "7", "4"]

    status, out, _ = run(capsys, "stock", "add", "p-1", "5", "--reason", "delivery 42", "--json")
    assert status == 0 and json.loads(out)["stocks"][0]["quantity"] == "15"
    assert fake.seen.requests["AddStock"][0].reason == "delivery 42"

    # Without --expected-version the count is of the version read just before.
    status, out, _ = run(capsys, "stock", "audit", "p-1", "12", "--json")
    assert status == 0 and json.loads(out)["stocks"][0]["quantity"] == "12"
    assert fake.seen.requests["AuditStock"][0].expected_version == 5


def test_a_stale_audit_prints_the_failed_precondition(fake: FakeMesh, capsys: Capture) -> None:
    status, _, err = run(capsys, "stock", "audit", "p-1", "12", "--expected-version", "1")
    assert status == 1
    assert err.splitlines()[1:] == ["  STALE_VERSION stock/p-1: version is 4"]


def test_stock_quantities_are_checked_before_calling(fake: FakeMesh, capsys: Capture) -> None:
    for argv in (["stock", "add", "p-1", "0"], ["stock", "add", "p-1", "-3"], ["stock", "audit", "p-1", "x"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
    assert "AddStock" not in fake.seen.requests and "AuditStock" not in fake.seen.requests


def test_products_list_sends_the_active_filter_only_when_given(fake: FakeMesh, capsys: Capture) -> None:
    run(capsys, "products", "list")
    status, out, _ = run(capsys, "products", "list", "--inactive", "--name-contains", "wid")
    assert status == 0 and out.splitlines()[1].split() == ["p-1", "Widget", "3.00", "EUR", "yes", "0"]
    plain, filtered = fake.seen.requests["ListProducts"]
    assert not plain.HasField("active")
    assert filtered.HasField("active") and not filtered.active and filtered.name_contains == "wid"


def test_notifications_list_and_retry(fake: FakeMesh, capsys: Capture) -> None:
    status, out, _ = run(capsys, "notifications", "list", "--status", "failed", "--order", "o-1")
    assert status == 0
    request = fake.seen.requests["ListNotifications"][0]
    assert (request.status, request.order_id) == (notify_pb2.NOTIFICATION_STATUS_FAILED, "o-1")
    row = ["n-1", "o-1", "OrderConfirmed", "ada@example.com", "FAILED", "3", "SMTP", "451"]
    assert out.splitlines()[1].split() == row
    status, out, _ = run(capsys, "notifications", "retry", "n-1", "--json")
    assert status == 0 and json.loads(out)["status"] == "NOTIFICATION_STATUS_PENDING"


def test_json_prints_fields_that_hold_their_default(fake: FakeMesh, capsys: Capture) -> None:
    fake.inventory.stock["p-0"] = inventory_pb2.Stock(product_id="p-0")
    _, out, _ = run(capsys, "stock", "show", "p-0", "--json")
    assert json.loads(out)["stocks"][0] == {
        "product_id": "p-0",
        "quantity": "0",
        "reserved": "0",
        "available": "0",
        "version": "0",
    }
