"""The ``oms`` command as an operator runs it: the venv's ``bin/oms`` as a subprocess, against
the real mesh (services, PostgreSQL, Kafka), orders placed through gRPC as a client would."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio

from oms.order.v1 import order_pb2
from testkit.clients import Clients, unique
from testkit.infra import Infra
from testkit.processes import ROOT, new_mesh
from testkit.wait import eventually
from tests.e2e.gateway_support import Stack, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

OMS = ROOT / ".venv" / "bin" / "oms"
COMMANDS = [
    "orders list",
    "orders show",
    "orders watch",
    "orders cancel",
    "orders set-status",
    "stock show",
    "stock add",
    "stock audit",
    "products list",
    "notifications list",
    "notifications retry",
    "topics list",
    "topics describe",
    "topics lag",
    "dlq list",
    "dlq show",
    "dlq replay",
    "outbox parked",
    "outbox republish",
    "token",
]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    mesh = await new_mesh(infra, Path(tmp_path_factory.mktemp("cli")))
    try:
        async with running_stack(mesh) as running:
            yield running
    finally:
        await mesh.stop()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def clients(stack: Stack) -> AsyncIterator[Clients]:
    """gRPC clients of the stack's order and inventory services (as a backend would be)."""
    order_channel = grpc.aio.insecure_channel(stack.service("order").address)
    inventory_channel = grpc.aio.insecure_channel(stack.service("inventory").address)
    try:
        yield Clients.connect(order_channel, inventory_channel, stack.mesh.metadata())
    finally:
        await order_channel.close()
        await inventory_channel.close()


def cli_env(stack: Stack | None, *, token: bool = True) -> dict[str, str]:
    """The operator's shell: no OMS_* of the test run, the stack's addresses and topic prefix."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")} | {"PYTHONPATH": str(ROOT)}
    if stack is None:
        return env
    env |= {f"OMS_CLI_{name.upper()}_ADDR": stack.service(name).address for name in ("order", "inventory", "notify")}
    env |= {"OMS_KAFKA_BOOTSTRAP": stack.mesh.kafka.bootstrap, "OMS_KAFKA_TOPIC_PREFIX": stack.mesh.kafka.topic_prefix}
    if token:
        env["OMS_TOKEN"] = stack.mesh.token()
    return env


async def oms(stack: Stack | None, *args: str, token: bool = True, expect: int | None = 0) -> tuple[int, str, str]:
    """``oms …``; checks the exit status when ``expect`` is given, and that no traceback leaked."""
    process = await asyncio.create_subprocess_exec(
        str(OMS),
        *args,
        cwd=ROOT,
        env=cli_env(stack, token=token),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    text_out, text_err = out.decode(), err.decode()
    assert "Traceback" not in text_err, text_err
    if expect is not None:
        assert process.returncode == expect, f"oms {' '.join(args)} → {process.returncode}: {text_err}{text_out}"
    return process.returncode, text_out, text_err


async def oms_json(stack: Stack, *args: str) -> Any:
    _, out, _ = await oms(stack, *args, "--json")
    return json.loads(out)


async def confirmed_order(clients: Clients, product_id: str, quantity: int = 1) -> order_pb2.Order:
    customer_id = await clients.customer()
    placed = await clients.place(customer_id, [(product_id, quantity)])
    settled = await clients.settled(placed.order_id)
    assert settled.status == order_pb2.ORDER_STATUS_CONFIRMED, settled
    return settled


@pytest.mark.parametrize("command", ["", *COMMANDS])
async def test_every_command_has_help(command: str) -> None:
    _, out, _ = await oms(None, *command.split(), "--help")
    assert out.startswith(f"usage: oms {command}".rstrip())


async def test_orders_list_and_show(stack: Stack, clients: Clients) -> None:
    product_id = await clients.product(stock=5, price_cents=1250)
    order = await confirmed_order(clients, product_id, quantity=2)

    listed = await oms_json(stack, "orders", "list", "--customer", order.customer_id)
    assert [(o["order_id"], o["status"]) for o in listed["orders"]] == [(order.order_id, "ORDER_STATUS_CONFIRMED")]
    confirmed = await oms_json(stack, "orders", "list", "--status", "confirmed", "--limit", "500")
    assert order.order_id in {o["order_id"] for o in confirmed["orders"]}

    shown = await oms_json(stack, "orders", "show", order.order_id)
    assert (shown["items"][0]["product_id"], shown["items"][0]["quantity"]) == (product_id, 2)
    assert shown["total"] == {"currency_code": "EUR", "units": "25", "nanos": 0}

    _, table, _ = await oms(stack, "orders", "show", order.order_id)
    assert "status         CONFIRMED" in table and "25.00 EUR" in table


async def test_set_status_and_watch_to_the_final_state(stack: Stack, clients: Clients) -> None:
    order = await confirmed_order(clients, await clients.product(stock=3))
    watch = asyncio.create_task(oms(stack, "orders", "watch", order.order_id, "--json"))
    for status in ("paid", "shipped"):
        changed = await oms_json(stack, "orders", "set-status", order.order_id, status, "--reason", "by the e2e test")
        assert changed["status"] == f"ORDER_STATUS_{status.upper()}"
    # A transition the state machine refuses: the code and message, exit 1, no traceback.
    status, out, err = await oms(stack, "orders", "set-status", order.order_id, "pending", expect=None)
    assert (status, out) == (1, "")
    assert err.startswith("oms orders: FAILED_PRECONDITION: ") or err.startswith("oms orders: INVALID_ARGUMENT: "), err
    await oms(stack, "orders", "set-status", order.order_id, "DELIVERED")

    _, out, _ = await asyncio.wait_for(watch, timeout=60)  # ends by itself at DELIVERED
    seen = [json.loads(line)["status"] for line in out.splitlines()]
    assert seen[-1] == "ORDER_STATUS_DELIVERED"
    assert seen == sorted(set(seen), key=seen.index)  # each state once, in order


async def test_cancel(stack: Stack, clients: Clients) -> None:
    product_id = await clients.product(stock=2)
    order = await confirmed_order(clients, product_id, quantity=2)
    cancelled = await oms_json(stack, "orders", "cancel", order.order_id, "--reason", "customer called")
    assert (cancelled["status"], cancelled["status_reason"]) == ("ORDER_STATUS_CANCELLED", "customer called")
    # Its reservation is given back (inventory hears of it through Kafka).
    await eventually(
        lambda: clients.stock(product_id), until=lambda s: s.reserved == 0, what="the cancelled order's stock back"
    )


async def test_stock_show_add_and_audit(stack: Stack, clients: Clients) -> None:
    product_id = await clients.product(stock=5)
    [shown] = (await oms_json(stack, "stock", "show", product_id))["stocks"]
    assert (shown["quantity"], shown["reserved"], shown["available"]) == ("5", "0", "5")

    [added] = (await oms_json(stack, "stock", "add", product_id, "3", "--reason", "delivery"))["stocks"]
    assert (added["quantity"], added["available"]) == ("8", "8")
    assert (await clients.stock(product_id)).quantity == 8

    [audited] = (await oms_json(stack, "stock", "audit", product_id, "6"))["stocks"]
    assert audited["quantity"] == "6"
    # A count against an old version is refused, not applied.
    _, _, err = await oms(stack, "stock", "audit", product_id, "1", "--expected-version", shown["version"], expect=1)
    assert err.startswith("oms stock: "), err
    assert (await clients.stock(product_id)).quantity == 6

    _, table, _ = await oms(stack, "stock", "show", product_id)
    assert table.splitlines()[1].split()[:4] == [product_id, "6", "0", "6"]


async def test_a_hostile_argument_is_invalid_argument_with_its_field(stack: Stack) -> None:
    _, _, err = await oms(stack, "stock", "add", "x" * 200, "1", expect=1)
    first, *violations = err.splitlines()
    assert first.startswith("oms stock: INVALID_ARGUMENT: ")
    assert any(line.startswith("  product_id: ") for line in violations), err


async def test_products_list(stack: Stack, clients: Clients) -> None:
    name = unique("Gadget")
    product_id = await clients.product(stock=1, name=name)
    listed = await oms_json(stack, "products", "list", "--name-contains", name)
    assert [(p["product_id"], p["active"]) for p in listed["products"]] == [(product_id, True)]


async def test_notifications_list(stack: Stack, clients: Clients) -> None:
    order = await confirmed_order(clients, await clients.product(stock=1))

    async def listed() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (await oms_json(stack, "notifications", "list", "--order", order.order_id))[
            "notifications"
        ]
        return found

    found = await eventually(listed, until=lambda n: any(x["status"] == "NOTIFICATION_STATUS_SENT" for x in n))
    assert {n["customer_id"] for n in found} == {order.customer_id}
    _, table, _ = await oms(stack, "notifications", "list", "--order", order.order_id)
    assert order.order_id in table and "SENT" in table


async def test_topics_list_describe_and_lag(stack: Stack, clients: Clients) -> None:
    await confirmed_order(clients, await clients.product(stock=1))
    prefix = stack.mesh.kafka.topic_prefix
    listed = {t["topic"]: t for t in (await oms_json(stack, "topics", "list"))["topics"]}
    assert {f"{prefix}orders", f"{prefix}orders.dlq", f"{prefix}inventory"} <= set(listed)
    assert all(name.startswith(prefix) for name in listed)  # the prefix from OMS_KAFKA_TOPIC_PREFIX
    assert listed[f"{prefix}orders"]["partitions"] == stack.mesh.kafka.partitions
    assert listed[f"{prefix}orders"]["messages"] >= 1

    described = await oms_json(stack, "topics", "describe", f"{prefix}orders")
    assert [p["partition"] for p in described["partitions"]] == list(range(stack.mesh.kafka.partitions))
    await oms(stack, "topics", "describe", f"{prefix}no-such-topic", expect=1)

    group = stack.service("inventory").env["OMS_INVENTORY_CONSUMER_GROUP"]

    async def lags() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (await oms_json(stack, "topics", "lag", "--group", group))["lags"]
        return found

    # The inventory service has read (and committed) what was published on orders.
    found = await eventually(
        lags, until=lambda rows: any(r["topic"] == f"{prefix}orders" and r["lag"] == 0 for r in rows)
    )
    assert {r["group"] for r in found} == {
        group + stack.service("inventory").env["OMS_INVENTORY_CONSUMER_GROUP_SUFFIX"]
    }


async def test_dlq_and_outbox_lists(stack: Stack) -> None:
    for service in ("order", "inventory", "notify"):
        letters = await oms_json(stack, "dlq", "list", "--service", service)
        assert isinstance(letters["dead_letters"], list)
        parked = await oms_json(stack, "outbox", "parked", "--service", service)
        assert isinstance(parked["parked_events"], list)
    _, table, _ = await oms(stack, "dlq", "list", "--service", "inventory")
    assert table.startswith("REF ") and stack.service("inventory").address in table


async def test_without_a_token_it_mints_a_development_admin_token(stack: Stack, clients: Clients) -> None:
    product_id = await clients.product(stock=4)
    _, out, _ = await oms(stack, "stock", "show", product_id, "--json", token=False)
    assert json.loads(out)["stocks"][0]["quantity"] == "4"


async def test_a_token_that_is_not_admin_is_refused_with_its_code(stack: Stack) -> None:
    customer = stack.mesh.token(unique("c"), "customer")
    _, _, err = await oms(stack, "stock", "add", "p-1", "1", "--token", customer, expect=1)
    assert err.startswith("oms stock: PERMISSION_DENIED: "), err
    _, _, err = await oms(stack, "orders", "list", "--token", "not-a-jwt", expect=1)
    assert err.startswith("oms orders: UNAUTHENTICATED: "), err


async def test_watch_ends_on_ctrl_c(stack: Stack, clients: Clients) -> None:
    """A CONFIRMED order is not final: the watch runs until the operator presses Ctrl-C (SIGINT),
    then ends with status 130 and no traceback."""
    order = await confirmed_order(clients, await clients.product(stock=1))
    process = await asyncio.create_subprocess_exec(
        str(OMS),
        "orders",
        "watch",
        order.order_id,
        cwd=ROOT,
        env=cli_env(stack),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        first = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        assert first.decode().split()[-1] == "CONFIRMED"
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 130
    assert "Traceback" not in err.decode()
