"""The gateway answers every request with a W3C ``traceresponse`` naming its own SERVER span,
also on errors; a gateway bug's incident is an ERROR record with that trace id."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway import handler, telemetry
from mesh.telemetry.trace_response import parse_trace_response

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "tracer", provider.get_tracer("test"))
    yield exporter


def _server_span_id(spans: InMemorySpanExporter) -> str:
    [span] = [s for s in spans.get_finished_spans() if s.name.startswith("GET")]
    context = span.get_span_context()
    assert context is not None
    return f"{context.span_id:016x}"


@pytest.mark.parametrize(("path", "status"), [("/orders/o-1", 200), ("/no/such/route", 404), ("/healthz", 200)])
async def test_the_answer_names_the_gateways_span(
    client: httpx.AsyncClient, spans: InMemorySpanExporter, path: str, status: int
) -> None:
    response = await client.get(path, headers={"traceparent": TRACEPARENT})
    assert response.status_code == status
    trace_id, span_id, sampled = parse_trace_response(response.headers["traceresponse"])
    assert (trace_id, sampled) == (TRACE_ID, True)
    assert span_id == _server_span_id(spans)


async def test_a_request_without_traceparent_learns_the_new_trace(
    client: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    response = await client.get("/orders/o-1")
    trace_id, span_id, _ = parse_trace_response(response.headers["traceresponse"])
    [span] = spans.get_finished_spans()
    context = span.get_span_context()
    assert context is not None
    assert (trace_id, span_id) == (f"{context.trace_id:032x}", _server_span_id(spans))


async def test_a_gateway_bug_answers_500_with_the_trace_and_logs_the_incident_under_it(
    client: httpx.AsyncClient,
    spans: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(handler, "to_json_dict", broken)
    with caplog.at_level(logging.ERROR):
        response = await client.get("/orders/o-1", headers={"traceparent": TRACEPARENT})
    assert response.status_code == 500
    incident = response.json()["message"].removeprefix("internal error (incident ").rstrip(")")
    [record] = [r for r in caplog.records if getattr(r, "incident", None) == incident]
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert record.__dict__["trace_id"] == TRACE_ID == parse_trace_response(response.headers["traceresponse"])[0]


async def test_a_browser_script_may_read_it_cross_origin(client: httpx.AsyncClient) -> None:
    response = await client.get("/orders/o-1", headers={"origin": "https://shop.example"})
    assert "traceresponse" in response.headers["access-control-expose-headers"].lower()
