"""``oms.notify.v1.WebhookService``: translates protobuf to the webhook handlers and back."""

from __future__ import annotations

from datetime import datetime

import grpc

from mesh.serving.errors import InvalidArgument
from mesh.serving.wire import optional_timestamp, timestamp
from mesh.storage.paging import PageTokens, page_size
from mesh.values.violations import FieldViolation
from notify_svc.domain.webhooks import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from notify_svc.service_layer import webhooks
from notify_svc.service_layer.ports import DeliveryCursor, DeliveryQuery, Dependencies
from oms.notify.v1 import webhooks_pb2, webhooks_pb2_grpc

_STATUS_TO_PB = {
    DeliveryStatus.PENDING: webhooks_pb2.WEBHOOK_DELIVERY_STATUS_PENDING,
    DeliveryStatus.DELIVERED: webhooks_pb2.WEBHOOK_DELIVERY_STATUS_DELIVERED,
    DeliveryStatus.FAILED: webhooks_pb2.WEBHOOK_DELIVERY_STATUS_FAILED,
}
_STATUS_FROM_PB = {pb: status for status, pb in _STATUS_TO_PB.items()}
_PAGE_KIND = "webhook-deliveries"

Context = grpc.aio.ServicerContext[object, object]


class WebhookServicer(webhooks_pb2_grpc.WebhookServiceServicer):
    def __init__(self, deps: Dependencies, page_tokens: PageTokens) -> None:
        self._deps = deps
        self._tokens = page_tokens

    async def CreateWebhookEndpoint(
        self, request: webhooks_pb2.CreateWebhookEndpointRequest, context: Context
    ) -> webhooks_pb2.CreateWebhookEndpointResponse:
        if not request.HasField("endpoint"):
            raise InvalidArgument([FieldViolation("endpoint", "required")])
        command = webhooks.NewEndpoint(request.endpoint.url, request.endpoint.description, request.secret.strip())
        registered = await webhooks.register_endpoint(command, self._deps)
        return webhooks_pb2.CreateWebhookEndpointResponse(
            endpoint=endpoint_to_pb(registered.endpoint), secret=registered.secret
        )

    async def ListWebhookEndpoints(
        self, request: webhooks_pb2.ListWebhookEndpointsRequest, context: Context
    ) -> webhooks_pb2.ListWebhookEndpointsResponse:
        endpoints = await webhooks.list_endpoints(self._deps)
        return webhooks_pb2.ListWebhookEndpointsResponse(endpoints=[endpoint_to_pb(e) for e in endpoints])

    async def DisableWebhookEndpoint(
        self, request: webhooks_pb2.DisableWebhookEndpointRequest, context: Context
    ) -> webhooks_pb2.DisableWebhookEndpointResponse:
        endpoint = await webhooks.set_endpoint_disabled(request.endpoint_id.strip(), True, self._deps)
        return webhooks_pb2.DisableWebhookEndpointResponse(endpoint=endpoint_to_pb(endpoint))

    async def EnableWebhookEndpoint(
        self, request: webhooks_pb2.EnableWebhookEndpointRequest, context: Context
    ) -> webhooks_pb2.EnableWebhookEndpointResponse:
        endpoint = await webhooks.set_endpoint_disabled(request.endpoint_id.strip(), False, self._deps)
        return webhooks_pb2.EnableWebhookEndpointResponse(endpoint=endpoint_to_pb(endpoint))

    async def DeleteWebhookEndpoint(
        self, request: webhooks_pb2.DeleteWebhookEndpointRequest, context: Context
    ) -> webhooks_pb2.DeleteWebhookEndpointResponse:
        await webhooks.delete_endpoint(request.endpoint_id.strip(), self._deps)
        return webhooks_pb2.DeleteWebhookEndpointResponse()

    async def ListWebhookDeliveries(
        self, request: webhooks_pb2.ListWebhookDeliveriesRequest, context: Context
    ) -> webhooks_pb2.ListWebhookDeliveriesResponse:
        page = await webhooks.list_deliveries(_delivery_query(request, self._tokens), self._deps)
        token = ""
        if page.next:
            token = self._tokens.encode(
                _PAGE_KIND, [page.next.create_time, page.next.delivery_id], filters=_filters(request)
            )
        return webhooks_pb2.ListWebhookDeliveriesResponse(
            deliveries=[delivery_to_pb(d) for d in page.deliveries], next_page_token=token
        )

    async def RetryWebhookDelivery(
        self, request: webhooks_pb2.RetryWebhookDeliveryRequest, context: Context
    ) -> webhooks_pb2.RetryWebhookDeliveryResponse:
        delivery = await webhooks.retry_delivery(request.delivery_id.strip(), self._deps)
        return webhooks_pb2.RetryWebhookDeliveryResponse(delivery=delivery_to_pb(delivery))


def _delivery_query(request: webhooks_pb2.ListWebhookDeliveriesRequest, tokens: PageTokens) -> DeliveryQuery:
    limit = page_size(request.page_size)
    status = None
    if request.status != webhooks_pb2.WEBHOOK_DELIVERY_STATUS_UNSPECIFIED:
        status = _STATUS_FROM_PB.get(request.status)
        if status is None:
            raise InvalidArgument([FieldViolation("status", f"unknown status {request.status}")])
    position = tokens.decode(_PAGE_KIND, request.page_token, (datetime, str), filters=_filters(request))
    after = DeliveryCursor(*position) if position is not None else None
    return DeliveryQuery(
        limit=limit, endpoint_id=request.endpoint_id, order_id=request.order_id, status=status, after=after
    )


def _filters(request: webhooks_pb2.ListWebhookDeliveriesRequest) -> dict[str, str | int]:
    return {"endpoint_id": request.endpoint_id, "order_id": request.order_id, "status": request.status}


def endpoint_to_pb(e: WebhookEndpoint) -> webhooks_pb2.WebhookEndpoint:
    # Never the secret: it was shown once, in CreateWebhookEndpoint's response.
    return webhooks_pb2.WebhookEndpoint(
        endpoint_id=e.endpoint_id,
        url=e.url,
        description=e.description,
        disabled=e.disabled,
        create_time=timestamp(e.create_time),
        update_time=timestamp(e.update_time),
    )


def delivery_to_pb(d: WebhookDelivery) -> webhooks_pb2.WebhookDelivery:
    return webhooks_pb2.WebhookDelivery(
        delivery_id=d.delivery_id,
        endpoint_id=d.endpoint_id,
        event_id=d.event_id,
        event_type=d.event_type,
        order_id=d.order_id,
        status=_STATUS_TO_PB[d.status],
        attempts=d.attempts,
        last_error=d.last_error,
        last_http_status=d.last_http_status,
        create_time=timestamp(d.create_time),
        update_time=timestamp(d.update_time),
        delivered_time=optional_timestamp(d.delivered_time),
        next_attempt_time=optional_timestamp(d.next_attempt_at if d.status is DeliveryStatus.PENDING else None),
    )
