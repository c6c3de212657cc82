"""Log lines name their trace, span and order, in the JSON and in the text format alike."""

from __future__ import annotations

import asyncio
import json
import logging

from opentelemetry.sdk.trace import TracerProvider

from mesh.telemetry.logs import JsonFormatter, TextFormatter, about_order, current_order_id, order_scope

tracer = TracerProvider().get_tracer("test")


def _record(message: str = "stock reserved", **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("inventory_svc.handlers", logging.INFO, __file__, 1, message, (), None)
    record.__dict__.update(extra)
    return record


def test_text_lines_carry_trace_span_and_order_ids_first() -> None:
    with tracer.start_as_current_span("process orders") as span, order_scope("ord-42"):
        line = TextFormatter("inventory_svc").format(_record(product_id="p-1"))
    context = span.get_span_context()
    assert " inventory_svc INFO inventory_svc.handlers: stock reserved " in line
    pairs = line.split(": stock reserved ", 1)[1]
    assert pairs == f"trace_id={context.trace_id:032x} span_id={context.span_id:016x} order_id=ord-42 product_id=p-1"


def test_text_values_with_spaces_are_quoted_and_a_line_outside_any_span_has_no_ids() -> None:
    line = TextFormatter("gateway").format(_record("hello", error="connection refused"))
    assert line.endswith('hello error="connection refused"')
    assert "trace_id" not in line and "order_id" not in line


def test_the_order_scope_reaches_child_spans_and_ends_with_its_block() -> None:
    formatter = JsonFormatter("notify_svc")
    with (
        tracer.start_as_current_span("process orders"),
        order_scope("ord-7"),
        tracer.start_as_current_span("transaction oms_notify"),
    ):
        inside = json.loads(formatter.format(_record()))
    after = json.loads(formatter.format(_record()))
    assert inside["order_id"] == "ord-7", "a line in a child span (no order.id attribute) still names the order"
    assert "order_id" not in after and current_order_id() == ""


def test_an_explicit_order_id_wins_and_about_order_stays_within_its_task() -> None:
    async def rpc() -> str:
        with tracer.start_as_current_span("GetOrder"):
            about_order("ord-1")
            return str(json.loads(JsonFormatter("order_svc").format(_record()))["order_id"])

    assert asyncio.run(rpc()) == "ord-1"
    assert current_order_id() == "", "an RPC's order does not leak out of its task"
    with order_scope("ord-1"):
        assert json.loads(JsonFormatter("order_svc").format(_record(order_id="ord-2")))["order_id"] == "ord-2"
