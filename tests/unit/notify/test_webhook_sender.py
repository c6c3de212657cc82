"""The HTTP side of a webhook over httpx.MockTransport: the headers and the CloudEvents body,
a signature a receiver verifies with nothing but the standard library, and which answers and
transport errors are worth a retry."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from mesh.messaging.events import EventEnvelope
from notify_svc.adapters.cloud_events import cloud_event_json
from notify_svc.adapters.webhook_sender import HttpWebhookSender, WebhookHttpConfig, classify
from notify_svc.adapters.webhook_signing import signature
from notify_svc.domain.webhooks import WebhookDelivery, WebhookEndpoint, secret_from
from notify_svc.service_layer.ports import WebhookError
from oms.order.v1 import events_pb2, order_pb2
from tests.unit.notify.fakes import T0

SECRET = secret_from(bytes(range(32)))
NOW = 1_700_000_000


def verify(secret: str, headers: httpx.Headers, body: bytes) -> bool:
    """A receiver's check, written from docs/webhooks.md, independent of notify_svc's code."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, sig.split(",", 1)[1]) for sig in headers["webhook-signature"].split(" "))


def envelope() -> EventEnvelope:
    message = events_pb2.OrderPlaced(
        order=order_pb2.Order(order_id="ord-1", customer_id="cust-1", status=order_pb2.ORDER_STATUS_PENDING),
        customer=events_pb2.CustomerContact(customer_id="cust-1", email="ada@example.com"),
    )
    return EventEnvelope(
        event_id="ev-1",
        event_type="oms.order.v1.OrderPlaced",
        source="/oms/order_svc",
        key="ord-1",
        message=message,
        topic="orders",
        partition=0,
        offset=7,
        headers={"ce_time": "2025-03-01T12:00:00Z"},
    )


def delivery(payload: str) -> WebhookDelivery:
    return WebhookDelivery.pending(
        delivery_id="8d1c5c5e-0000-4000-8000-000000000001",
        endpoint_id="e-1",
        event_id="ev-1",
        event_type="oms.order.v1.OrderPlaced",
        order_id="ord-1",
        payload=payload,
        now=T0,
    )


ENDPOINT = WebhookEndpoint("e-1", "https://hooks.example.com/oms", SECRET, "", False, T0, T0)


def sender(handler: httpx.MockTransport) -> HttpWebhookSender:
    return HttpWebhookSender(WebhookHttpConfig(), clock=lambda: NOW, transport=handler)


def test_the_cloud_event_is_structured_json_with_the_kafka_attributes_and_the_event_as_data() -> None:
    document = json.loads(cloud_event_json(envelope(), subject="ord-1"))
    assert {k: v for k, v in document.items() if k != "data"} == {
        "specversion": "1.0",
        "id": "ev-1",
        "source": "/oms/order_svc",
        "type": "oms.order.v1.OrderPlaced",
        "time": "2025-03-01T12:00:00Z",
        "subject": "ord-1",
        "datacontenttype": "application/json",
    }
    # The protobuf JSON mapping: lowerCamelCase names, enums by name.
    assert document["data"]["order"] == {"orderId": "ord-1", "customerId": "cust-1", "status": "ORDER_STATUS_PENDING"}
    assert document["data"]["customer"]["email"] == "ada@example.com"


async def test_a_post_carries_the_delivery_id_a_timestamp_and_a_signature_over_both_and_the_body() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    payload = cloud_event_json(envelope(), subject="ord-1")
    assert await sender(httpx.MockTransport(answer)).post(delivery(payload), ENDPOINT) == 204

    [request] = seen
    assert (request.method, str(request.url), request.content) == ("POST", ENDPOINT.url, payload.encode())
    assert request.headers["content-type"] == "application/cloudevents+json; charset=utf-8"
    assert request.headers["webhook-id"] == "8d1c5c5e-0000-4000-8000-000000000001"
    assert request.headers["webhook-timestamp"] == str(NOW)
    assert request.headers["webhook-signature"].startswith("v1,")
    assert verify(SECRET, request.headers, request.content)
    assert not verify(secret_from(b"x" * 32), request.headers, request.content)
    assert not verify(SECRET, request.headers, request.content + b" ")


@pytest.mark.parametrize(
    ("status", "retriable"),
    [
        *[(status, True) for status in (500, 502, 503, 408, 425, 429)],
        *[(status, False) for status in (400, 401, 403, 404, 410, 422, 301)],
    ],
)
async def test_5xx_408_and_429_are_retried_other_answers_fail_for_good(status: int, retriable: bool) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, text="nope"))
    with pytest.raises(WebhookError) as caught:
        await sender(transport).post(delivery("{}"), ENDPOINT)
    assert (caught.value.retriable, caught.value.http_status) == (retriable, status)
    assert str(caught.value) == f"HTTP {status}: nope"


@pytest.mark.parametrize(
    "error", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("x")]
)
async def test_timeouts_and_connection_errors_are_retried(error: Exception) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(WebhookError) as caught:
        await sender(httpx.MockTransport(fail)).post(delivery("{}"), ENDPOINT)
    assert caught.value.retriable and caught.value.http_status == 0


def test_classify_keeps_a_bounded_part_of_the_answer() -> None:
    assert str(classify(500, "x" * 200)) == "HTTP 500: " + "x" * 200
    assert str(classify(500)) == "HTTP 500"


async def test_each_attempt_is_a_client_span_whose_context_the_endpoint_receives() -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503 if len(seen) == 1 else 200)

    traced = HttpWebhookSender(
        WebhookHttpConfig(), clock=lambda: NOW, transport=httpx.MockTransport(answer), tracer=provider.get_tracer("t")
    )
    with pytest.raises(WebhookError):
        await traced.post(delivery("{}"), ENDPOINT)
    assert await traced.post(delivery("{}"), ENDPOINT) == 200

    failed, delivered = spans.get_finished_spans()
    for span, request in ((failed, seen[0]), (delivered, seen[1])):
        assert span.name == "webhook POST" and span.kind is SpanKind.CLIENT
        assert span.attributes is not None
        assert span.attributes["oms.webhook.delivery_id"] == "8d1c5c5e-0000-4000-8000-000000000001"
        assert span.attributes["server.address"] == "hooks.example.com"
        assert f"{span.context.trace_id:032x}" in request.headers["traceparent"]
    assert failed.attributes is not None and failed.attributes["http.response.status_code"] == 503
    assert failed.status.status_code is StatusCode.ERROR
    assert delivered.attributes is not None and delivered.attributes["http.response.status_code"] == 200


async def test_a_huge_answer_is_read_only_as_far_as_the_error_shows_it() -> None:
    read: list[int] = []

    class Endless(httpx.AsyncByteStream):
        async def __aiter__(self):  # type: ignore[no-untyped-def]
            for _ in range(10_000):
                read.append(1)
                yield b"x" * 1024

    transport = httpx.MockTransport(lambda request: httpx.Response(500, stream=Endless()))
    with pytest.raises(WebhookError) as caught:
        await sender(transport).post(delivery("{}"), ENDPOINT)
    assert str(caught.value) == "HTTP 500: " + "x" * 200
    assert len(read) < 5


async def test_an_answer_slower_than_the_timeout_is_a_retriable_failure() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    config = WebhookHttpConfig(timeout_s=0.05)
    quick = HttpWebhookSender(config, clock=lambda: NOW, transport=httpx.MockTransport(slow))
    with pytest.raises(WebhookError, match=r"timed out after 0\.05s") as caught:
        await quick.post(delivery("{}"), ENDPOINT)
    assert caught.value.retriable


def test_the_verification_example_in_docs_webhooks_md_accepts_our_signature_and_refuses_others() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "webhooks.md").read_text()
    [example] = re.findall(r"```python\n(.*?)```", doc, flags=re.DOTALL)
    namespace: dict[str, Any] = {}
    exec(example, namespace)
    documented_verify = namespace["verify"]

    body = b'{"specversion":"1.0"}'
    now = int(time.time())
    headers = {
        "webhook-id": "d-1",
        "webhook-timestamp": str(now),
        "webhook-signature": signature(SECRET, "d-1", now, body),
    }
    assert documented_verify(SECRET, headers, body)
    assert not documented_verify(SECRET, headers, body + b"x")
    assert not documented_verify(secret_from(b"o" * 32), headers, body)
    stale = headers | {"webhook-timestamp": str(now - 3600)}
    stale["webhook-signature"] = signature(SECRET, "d-1", now - 3600, body)
    assert not documented_verify(SECRET, stale, body)
