"""WebhookServicer's translation, in process with grpcio-testing over fakes: the secret shown
once and never listed, bad input as field violations, unknown ids as NOT_FOUND, deliveries
paged and retried, and every RPC refused to customers by the declared rules."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import message_factory

from mesh.auth.authorization import rules_of
from mesh.auth.interceptor import AuthServerInterceptor
from mesh.auth.minting import mint_token
from mesh.auth.principal import ROLE_ADMIN, ROLE_CUSTOMER, Principal
from mesh.auth.settings import AuthSettings
from mesh.auth.verification import TokenVerifier
from mesh.storage.paging import PageTokens
from notify_svc.bootstrap import SERVICES
from notify_svc.domain.retry_policy import RetryPolicy
from notify_svc.domain.webhooks import JitteredRetry, secret_from
from notify_svc.entrypoints.webhook_servicer import WebhookServicer
from notify_svc.service_layer.notifications import record_order_event
from notify_svc.service_layer.ports import WebhookError
from notify_svc.service_layer.webhook_delivery import WebhookDeliverySettings, WebhookDispatcher
from oms.notify.v1 import webhooks_pb2
from testkit.grpc_in_process import InProcess
from tests.unit.notify.fakes import Harness, placed

SERVICE = webhooks_pb2.DESCRIPTOR.services_by_name["WebhookService"]
ADMIN = Principal("ops-1", frozenset({ROLE_ADMIN}))
URL = "https://hooks.example.com/oms"
UNKNOWN = "00000000-0000-4000-8000-999999999999"


def serve(h: Harness, *, auth: AuthServerInterceptor | None = None) -> InProcess:
    return InProcess(WebhookServicer(h.deps, PageTokens.development()), SERVICE, auth=auth)


def create(server: InProcess, url: str = URL, secret: str = "") -> webhooks_pb2.CreateWebhookEndpointResponse:
    request = webhooks_pb2.CreateWebhookEndpointRequest(
        endpoint=webhooks_pb2.WebhookEndpoint(url=url, description="erp"), secret=secret
    )
    reply = server.unary("CreateWebhookEndpoint", request, principal=ADMIN)
    assert reply.code is grpc.StatusCode.OK, reply.details
    response: webhooks_pb2.CreateWebhookEndpointResponse = reply.response
    return response


def test_the_secret_is_in_the_creation_response_and_in_no_listing() -> None:
    h = Harness()
    server = serve(h)
    created = create(server)
    assert created.secret.startswith("whsec_") and created.endpoint.url == URL
    assert created.endpoint.endpoint_id and not created.endpoint.disabled
    assert created.endpoint.HasField("create_time")

    listed = server.unary("ListWebhookEndpoints", webhooks_pb2.ListWebhookEndpointsRequest(), principal=ADMIN)
    assert [e.endpoint_id for e in listed.response.endpoints] == [created.endpoint.endpoint_id]
    assert created.secret not in str(listed.response)


def test_a_supplied_secret_is_used() -> None:
    secret = secret_from(b"q" * 32)
    assert create(serve(Harness()), secret=secret).secret == secret


@pytest.mark.parametrize(
    ("request_", "violations"),
    [
        (webhooks_pb2.CreateWebhookEndpointRequest(), [("endpoint", "required")]),
        (
            webhooks_pb2.CreateWebhookEndpointRequest(endpoint=webhooks_pb2.WebhookEndpoint(url="ftp://x.example.com")),
            [("endpoint.url", "must be an absolute https:// URL")],
        ),
        (
            webhooks_pb2.CreateWebhookEndpointRequest(
                endpoint=webhooks_pb2.WebhookEndpoint(url=URL), secret="not-a-whsec"
            ),
            [("secret", "must start with 'whsec_' (Standard Webhooks form)")],
        ),
    ],
)
def test_bad_registrations_are_invalid_argument_with_field_violations(
    request_: webhooks_pb2.CreateWebhookEndpointRequest, violations: list[tuple[str, str]]
) -> None:
    reply = serve(Harness()).unary("CreateWebhookEndpoint", request_, principal=ADMIN)
    assert reply.code is grpc.StatusCode.INVALID_ARGUMENT
    assert reply.field_violations == violations


def test_disable_enable_delete_and_unknown_or_malformed_ids() -> None:
    h = Harness()
    server = serve(h)
    endpoint_id = create(server).endpoint.endpoint_id

    off = server.unary(
        "DisableWebhookEndpoint", webhooks_pb2.DisableWebhookEndpointRequest(endpoint_id=endpoint_id), principal=ADMIN
    )
    assert off.response.endpoint.disabled
    on = server.unary(
        "EnableWebhookEndpoint", webhooks_pb2.EnableWebhookEndpointRequest(endpoint_id=endpoint_id), principal=ADMIN
    )
    assert not on.response.endpoint.disabled
    deleted = server.unary(
        "DeleteWebhookEndpoint", webhooks_pb2.DeleteWebhookEndpointRequest(endpoint_id=endpoint_id), principal=ADMIN
    )
    assert deleted.code is grpc.StatusCode.OK
    again = server.unary(
        "DeleteWebhookEndpoint", webhooks_pb2.DeleteWebhookEndpointRequest(endpoint_id=endpoint_id), principal=ADMIN
    )
    assert again.code is grpc.StatusCode.NOT_FOUND
    bad = server.unary(
        "DisableWebhookEndpoint", webhooks_pb2.DisableWebhookEndpointRequest(endpoint_id="nope"), principal=ADMIN
    )
    assert bad.code is grpc.StatusCode.INVALID_ARGUMENT
    assert bad.field_violations == [("endpoint_id", "not an endpoint id (a UUID)")]


async def test_deliveries_are_listed_page_by_page_and_a_failed_one_is_retried() -> None:
    h = Harness()
    server = serve(h)
    endpoint_id = create(server).endpoint.endpoint_id
    for n in range(3):
        await record_order_event(placed(f"ev-{n}", order_id=f"ord-{n}"), h.deps, "{}")
        h.clock.advance(1)
    h.webhooks.fail_next(URL, WebhookError("HTTP 404", retriable=False, http_status=404))
    settings = WebhookDeliverySettings(retry=JitteredRetry(RetryPolicy(), lambda: 0.5), concurrency=1)
    await WebhookDispatcher(h.deps, settings).dispatch_due()

    first = await server.call(
        "ListWebhookDeliveries", webhooks_pb2.ListWebhookDeliveriesRequest(page_size=2), principal=ADMIN
    )
    assert [d.event_id for d in first.response.deliveries] == ["ev-2", "ev-1"]
    rest = await server.call(
        "ListWebhookDeliveries",
        webhooks_pb2.ListWebhookDeliveriesRequest(page_size=2, page_token=first.response.next_page_token),
        principal=ADMIN,
    )
    [failed] = rest.response.deliveries
    assert (failed.event_id, failed.endpoint_id, failed.order_id) == ("ev-0", endpoint_id, "ord-0")
    assert (failed.status, failed.attempts, failed.last_http_status) == (
        webhooks_pb2.WEBHOOK_DELIVERY_STATUS_FAILED,
        1,
        404,
    )
    assert failed.last_error == "HTTP 404" and not failed.HasField("next_attempt_time")

    retried = await server.call(
        "RetryWebhookDelivery",
        webhooks_pb2.RetryWebhookDeliveryRequest(delivery_id=failed.delivery_id),
        principal=ADMIN,
    )
    assert retried.response.delivery.status == webhooks_pb2.WEBHOOK_DELIVERY_STATUS_PENDING
    assert retried.response.delivery.HasField("next_attempt_time")
    twice = await server.call(
        "RetryWebhookDelivery",
        webhooks_pb2.RetryWebhookDeliveryRequest(delivery_id=failed.delivery_id),
        principal=ADMIN,
    )
    assert twice.code is grpc.StatusCode.FAILED_PRECONDITION
    unknown = await server.call(
        "RetryWebhookDelivery", webhooks_pb2.RetryWebhookDeliveryRequest(delivery_id=UNKNOWN), principal=ADMIN
    )
    assert unknown.code is grpc.StatusCode.NOT_FOUND


def test_a_page_token_of_other_filters_is_refused() -> None:
    h = Harness()
    server = serve(h)
    token = PageTokens.development().encode("webhook-deliveries", ["2025-01-01T00:00:00+00:00", UNKNOWN])
    reply = server.unary(
        "ListWebhookDeliveries",
        webhooks_pb2.ListWebhookDeliveriesRequest(page_token=token, order_id="ord-1"),
        principal=ADMIN,
    )
    assert reply.code is grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in reply.field_violations] == ["page_token"]


def bearer(subject: str, *roles: str) -> tuple[tuple[str, str | bytes], ...]:
    return (("authorization", f"Bearer {mint_token(subject, roles)}"),)


@pytest.mark.parametrize("method", [m.name for m in SERVICE.methods])
def test_every_webhook_rpc_is_refused_to_customers_and_to_anonymous_callers(method: str) -> None:
    h = Harness()
    server = serve(h, auth=AuthServerInterceptor(TokenVerifier(AuthSettings()), rules_of(SERVICES)))
    request = message_factory.GetMessageClass(SERVICE.methods_by_name[method].input_type)()
    assert (
        server.unary(method, request, metadata=bearer("cust-1", ROLE_CUSTOMER)).code
        is grpc.StatusCode.PERMISSION_DENIED
    )
    assert server.unary(method, request).code is grpc.StatusCode.UNAUTHENTICATED
    assert h.endpoints.rows == {}
