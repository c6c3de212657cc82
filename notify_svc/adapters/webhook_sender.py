"""POSTs webhook deliveries with httpx: signed, bounded in time, one span per attempt.

Headers of every attempt (docs/webhooks.md): ``webhook-id`` (the delivery id, the same on
every retry: receivers dedupe on it), ``webhook-timestamp`` (unix seconds of this attempt),
``webhook-signature`` (``v1,<base64 HMAC-SHA256>``), the CloudEvents structured content type
and W3C ``traceparent``. Redirects are not followed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from notify_svc.adapters.cloud_events import CONTENT_TYPE
from notify_svc.adapters.webhook_signing import signature
from notify_svc.domain.webhooks import WebhookDelivery, WebhookEndpoint
from notify_svc.service_layer.ports import WebhookError

_tracer = trace.get_tracer("notify_svc.webhooks")
USER_AGENT = "oms-notify-webhooks/1"
# Statuses worth another attempt: the endpoint is overloaded, down or timed out itself.
_RETRIABLE_4XX = {408, 425, 429}
# How much of an endpoint's answer is kept in last_error.
_BODY_SHOWN = 200


@dataclass(frozen=True)
class WebhookHttpConfig:
    # Whole attempt: connect, send, wait for the status line and headers.
    timeout_s: float = 10.0
    connect_timeout_s: float = 5.0
    max_connections: int = 32


class HttpWebhookSender:
    def __init__(
        self,
        config: WebhookHttpConfig,
        *,
        clock: Callable[[], float],
        transport: httpx.AsyncBaseTransport | None = None,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self._config = config
        self._tracer = tracer or _tracer
        self._clock = clock
        # Tests hand in httpx.MockTransport; production uses httpx's own.
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        # Built on first use (nothing connects at import or bootstrap) and kept: connections are reused.
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._config.timeout_s, connect=self._config.connect_timeout_s),
                limits=httpx.Limits(max_connections=self._config.max_connections),
                follow_redirects=False,
                trust_env=False,
                transport=self._transport,
            )
        return self._client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def headers(self, delivery: WebhookDelivery, endpoint: WebhookEndpoint, body: bytes) -> dict[str, str]:
        timestamp = int(self._clock())
        return {
            "content-type": CONTENT_TYPE,
            "user-agent": USER_AGENT,
            "webhook-id": delivery.delivery_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(endpoint.secret, delivery.delivery_id, timestamp, body),
        }

    async def post(self, delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> int:
        body = delivery.payload.encode()
        target = urlsplit(endpoint.url)
        attributes: dict[str, str | int] = {
            "http.request.method": "POST",
            "server.address": target.hostname or "",
            "server.port": target.port or (443 if target.scheme == "https" else 80),
            "url.scheme": target.scheme,
            "oms.webhook.delivery_id": delivery.delivery_id,
            "oms.webhook.endpoint_id": endpoint.endpoint_id,
            "oms.webhook.attempt": delivery.attempts,
            "cloudevents.event_id": delivery.event_id,
            "cloudevents.event_type": delivery.event_type,
        }
        with self._tracer.start_as_current_span("webhook POST", kind=SpanKind.CLIENT, attributes=attributes) as span:
            headers = self.headers(delivery, endpoint, body)
            propagate.inject(headers)
            try:
                # The whole attempt is bounded, not only each read: an endpoint that drips its
                # answer a byte at a time is a timeout too.
                async with asyncio.timeout(self._config.timeout_s):
                    status, excerpt = await self._exchange(endpoint.url, body, headers)
            except (TimeoutError, httpx.TimeoutException) as exc:
                span.set_attribute("error.type", "timeout")
                span.set_status(Status(StatusCode.ERROR, "timeout"))
                raise WebhookError(f"timed out after {self._config.timeout_s:g}s", retriable=True) from exc
            except httpx.HTTPError as exc:  # connection refused, reset, TLS, a malformed answer
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise WebhookError(f"{type(exc).__name__}: {exc}", retriable=True) from exc
            span.set_attribute("http.response.status_code", status)
            if 200 <= status < 300:
                return status
            span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR))
            raise classify(status, excerpt)

    async def _exchange(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        """The answer's status and the start of its body: an endpoint's answer is read only as
        far as last_error shows it, however large it is."""
        async with self._http().stream("POST", url, content=body, headers=headers) as response:
            if 200 <= response.status_code < 300:
                return response.status_code, ""
            if response.is_stream_consumed:  # an answer built in memory (httpx.MockTransport)
                return response.status_code, response.content[:_BODY_SHOWN].decode(errors="replace")
            kept = b""
            async for chunk in response.aiter_raw():
                kept += chunk
                if len(kept) >= _BODY_SHOWN:
                    break
            return response.status_code, kept[:_BODY_SHOWN].decode(errors="replace")


def classify(status: int, body: str = "") -> WebhookError:
    """5xx, 408, 425 and 429 may work later; any other answer (4xx, a redirect) will not."""
    retriable = status >= 500 or status in _RETRIABLE_4XX
    detail = f": {body.strip()}" if body.strip() else ""
    return WebhookError(f"HTTP {status}{detail}", retriable=retriable, http_status=status)
