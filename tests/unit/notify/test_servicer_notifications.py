"""NotificationServicer's translation, in process with grpcio-testing over fakes: request → query,
error → status with details, the caller's principal → whose notifications, result → response."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2

from mesh.auth.authorization import rules_of
from mesh.auth.interceptor import AuthServerInterceptor
from mesh.auth.minting import mint_token
from mesh.auth.principal import ROLE_ADMIN, ROLE_CUSTOMER, Principal
from mesh.auth.settings import AuthSettings
from mesh.auth.verification import TokenVerifier
from mesh.serving.wire import timestamp
from mesh.storage.paging import PageTokens
from notify_svc.bootstrap import SERVICES
from notify_svc.domain.model import Notification
from notify_svc.domain.retry_policy import RetryPolicy
from notify_svc.entrypoints.grpc_servicer import NotificationServicer
from notify_svc.service_layer.delivery import DeliverySettings, Dispatcher
from notify_svc.service_layer.notifications import record_order_event
from oms.notify.v1 import notify_pb2
from testkit.grpc_in_process import InProcess
from tests.unit.notify.fakes import Harness, placed

SERVICE = notify_pb2.DESCRIPTOR.services_by_name["NotificationService"]
ADA = Principal("cust-ada", frozenset({ROLE_CUSTOMER}))
BOB = Principal("cust-bob", frozenset({ROLE_CUSTOMER}))
ADMIN = Principal("ops-1", frozenset({ROLE_ADMIN}))


def serve(h: Harness, *, auth: AuthServerInterceptor | None = None) -> InProcess:
    return InProcess(NotificationServicer(h.deps, PageTokens.development()), SERVICE, auth=auth)


async def record(h: Harness, event_id: str, customer_id: str, order_id: str, email: str = "") -> Notification:
    [n] = await record_order_event(
        placed(event_id, customer_id=customer_id, order_id=order_id, email=email or f"{customer_id}@example.com"),
        h.deps,
    )
    h.clock.advance(1)  # distinct create times: the listing's order is defined
    return n


async def two_customers(h: Harness) -> None:
    await record(h, "ev-ada-1", "cust-ada", "ord-ada-1")
    await record(h, "ev-bob-1", "cust-bob", "ord-bob-1")
    await record(h, "ev-ada-2", "cust-ada", "ord-ada-2")


def listed(reply_response: notify_pb2.ListNotificationsResponse) -> list[str]:
    return [n.event_id for n in reply_response.notifications]


# --- request → query, result → response ---------------------------------------------------------


async def test_a_notification_is_translated_field_by_field() -> None:
    h = Harness()
    n = await record(h, "ev-1", "cust-ada", "ord-1")

    reply = serve(h).unary("ListNotifications", notify_pb2.ListNotificationsRequest(), principal=ADMIN)

    assert reply.code is grpc.StatusCode.OK
    [got] = reply.response.notifications
    assert (got.notification_id, got.event_id, got.event_type) == (n.notification_id, "ev-1", n.event_type)
    assert (got.order_id, got.customer_id, got.recipient) == ("ord-1", "cust-ada", "cust-ada@example.com")
    assert (got.channel, got.status) == (notify_pb2.CHANNEL_EMAIL, notify_pb2.NOTIFICATION_STATUS_PENDING)
    assert (got.subject, got.attempts, got.last_error) == ("We received your order ord-1", 0, "")
    assert got.create_time == timestamp(n.create_time) and got.update_time == timestamp(n.update_time)
    assert not got.HasField("sent_time")  # unset stays unset, not the epoch
    assert reply.response.next_page_token == ""


async def test_a_sent_notification_carries_its_sent_time() -> None:
    h = Harness()
    await record(h, "ev-1", "cust-ada", "ord-1")
    await Dispatcher(h.deps, DeliverySettings(policy=RetryPolicy())).dispatch_due()

    [got] = (
        serve(h)
        .unary("ListNotifications", notify_pb2.ListNotificationsRequest(), principal=ADMIN)
        .response.notifications
    )

    assert (got.status, got.attempts) == (notify_pb2.NOTIFICATION_STATUS_SENT, 1)
    assert got.sent_time == timestamp(h.clock.now)


async def test_filters_and_page_size_become_the_query_and_the_token_continues_it() -> None:
    h = Harness()
    for i in range(3):
        await record(h, f"ev-{i}", "cust-ada", "ord-a")
    await record(h, "ev-other", "cust-ada", "ord-b")
    await record(h, "ev-bad", "cust-ada", "ord-a", email="not-an-address")  # FAILED at once
    svc = serve(h)
    pending = notify_pb2.NOTIFICATION_STATUS_PENDING

    first = svc.unary(
        "ListNotifications",
        notify_pb2.ListNotificationsRequest(order_id="ord-a", status=pending, page_size=2),
        principal=ADMIN,
    ).response
    second = svc.unary(
        "ListNotifications",
        notify_pb2.ListNotificationsRequest(
            order_id="ord-a", status=pending, page_size=2, page_token=first.next_page_token
        ),
        principal=ADMIN,
    ).response

    assert (listed(first), listed(second)) == (["ev-2", "ev-1"], ["ev-0"])
    assert first.next_page_token and not second.next_page_token
    failed = svc.unary(
        "ListNotifications",
        notify_pb2.ListNotificationsRequest(status=notify_pb2.NOTIFICATION_STATUS_FAILED),
        principal=ADMIN,
    ).response
    assert listed(failed) == ["ev-bad"]


# --- errors → status and details ---------------------------------------------------------------


async def test_an_unknown_status_is_invalid_with_a_field_violation() -> None:
    reply = serve(Harness()).unary(
        "ListNotifications",
        notify_pb2.ListNotificationsRequest(status=99),  # type: ignore[arg-type]
        principal=ADMIN,
    )

    assert reply.code is grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in reply.field_violations] == ["status"]
    assert reply.status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]


async def test_a_token_from_another_listing_is_invalid_with_a_field_violation() -> None:
    h = Harness()
    for i in range(2):
        await record(h, f"ev-{i}", "cust-ada", "ord-a")
    svc = serve(h)
    first = svc.unary(
        "ListNotifications", notify_pb2.ListNotificationsRequest(order_id="ord-a", page_size=1), principal=ADMIN
    ).response

    reply = svc.unary(
        "ListNotifications",
        notify_pb2.ListNotificationsRequest(order_id="ord-b", page_size=1, page_token=first.next_page_token),
        principal=ADMIN,
    )

    assert reply.code is grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in reply.field_violations] == ["page_token"]


@pytest.mark.parametrize(
    ("notification_id", "description"),
    # An empty id is refused by the contract's bounds before the handler sees it.
    [("", "must not be empty"), ("not-a-uuid", "not a notification id (a UUID)")],
)
def test_a_malformed_notification_id_is_invalid_with_a_field_violation(notification_id: str, description: str) -> None:
    reply = serve(Harness()).unary(
        "RetryNotification", notify_pb2.RetryNotificationRequest(notification_id=notification_id), principal=ADMIN
    )

    assert reply.code is grpc.StatusCode.INVALID_ARGUMENT
    assert reply.field_violations == [("notification_id", description)]


def test_an_unknown_notification_is_not_found_and_names_it() -> None:
    missing = "00000000-0000-4000-8000-999999999999"
    reply = serve(Harness()).unary(
        "RetryNotification", notify_pb2.RetryNotificationRequest(notification_id=missing), principal=ADMIN
    )

    assert reply.code is grpc.StatusCode.NOT_FOUND
    info = reply.detail(error_details_pb2.ErrorInfo)
    assert info.metadata["notification_id"] == missing


async def test_retrying_a_notification_that_did_not_fail_is_a_failed_precondition_with_its_state() -> None:
    h = Harness()
    n = await record(h, "ev-1", "cust-ada", "ord-1")

    reply = serve(h).unary(
        "RetryNotification", notify_pb2.RetryNotificationRequest(notification_id=n.notification_id), principal=ADMIN
    )

    assert reply.code is grpc.StatusCode.FAILED_PRECONDITION
    [violation] = reply.detail(error_details_pb2.PreconditionFailure).violations
    assert (violation.type, violation.subject) == ("STATE", f"notifications/{n.notification_id}")
    assert reply.detail(error_details_pb2.ErrorInfo).metadata["status"] == "PENDING"


async def test_retrying_a_failed_notification_answers_it_pending_again() -> None:
    h = Harness()
    n = await record(h, "ev-1", "cust-ada", "ord-1", email="not-an-address")

    reply = serve(h).unary(
        "RetryNotification",
        notify_pb2.RetryNotificationRequest(notification_id=f" {n.notification_id} "),  # surrounding blanks are cut
        principal=ADMIN,
    )

    assert reply.code is grpc.StatusCode.OK
    got = reply.response.notification
    assert (got.notification_id, got.status, got.attempts) == (
        n.notification_id,
        notify_pb2.NOTIFICATION_STATUS_PENDING,
        0,
    )
    assert h.wakes == 1  # the dispatcher is told at once


# --- the caller's principal → whose notifications ------------------------------------------------


async def test_a_customer_sees_only_their_own_notifications() -> None:
    h = Harness()
    await two_customers(h)
    svc = serve(h)

    ada = svc.unary("ListNotifications", notify_pb2.ListNotificationsRequest(), principal=ADA).response
    bob = svc.unary("ListNotifications", notify_pb2.ListNotificationsRequest(), principal=BOB).response
    by_order = svc.unary(
        "ListNotifications", notify_pb2.ListNotificationsRequest(order_id="ord-bob-1"), principal=ADA
    ).response

    assert listed(ada) == ["ev-ada-2", "ev-ada-1"]
    assert listed(bob) == ["ev-bob-1"]
    assert listed(by_order) == []  # another customer's order id finds nothing of theirs


async def test_a_customer_naming_another_customer_is_denied() -> None:
    h = Harness()
    await two_customers(h)

    reply = serve(h).unary(
        "ListNotifications", notify_pb2.ListNotificationsRequest(customer_id="cust-bob"), principal=ADA
    )

    assert reply.code is grpc.StatusCode.PERMISSION_DENIED
    assert reply.response is None


async def test_a_customer_naming_themselves_gets_their_own() -> None:
    h = Harness()
    await two_customers(h)

    reply = serve(h).unary(
        "ListNotifications", notify_pb2.ListNotificationsRequest(customer_id="cust-ada"), principal=ADA
    )

    assert listed(reply.response) == ["ev-ada-2", "ev-ada-1"]


async def test_an_admin_sees_everyone_or_the_customer_named() -> None:
    h = Harness()
    await two_customers(h)
    svc = serve(h)

    everyone = svc.unary("ListNotifications", notify_pb2.ListNotificationsRequest(), principal=ADMIN).response
    bobs = svc.unary(
        "ListNotifications", notify_pb2.ListNotificationsRequest(customer_id="cust-bob"), principal=ADMIN
    ).response

    assert listed(everyone) == ["ev-ada-2", "ev-bob-1", "ev-ada-1"]
    assert listed(bobs) == ["ev-bob-1"]


# --- auth metadata, through the service's own interceptor ----------------------------------------


def authenticated(h: Harness) -> InProcess:
    return serve(h, auth=AuthServerInterceptor(TokenVerifier(AuthSettings()), rules_of(SERVICES)))


def bearer(subject: str, *roles: str) -> tuple[tuple[str, str | bytes], ...]:
    return (("authorization", f"Bearer {mint_token(subject, roles)}"),)


async def test_a_customer_token_lists_that_customers_notifications() -> None:
    h = Harness()
    await two_customers(h)

    reply = authenticated(h).unary(
        "ListNotifications", notify_pb2.ListNotificationsRequest(), metadata=bearer("cust-bob", ROLE_CUSTOMER)
    )

    assert reply.code is grpc.StatusCode.OK
    assert listed(reply.response) == ["ev-bob-1"]


def test_no_token_is_unauthenticated() -> None:
    reply = authenticated(Harness()).unary("ListNotifications", notify_pb2.ListNotificationsRequest())

    assert reply.code is grpc.StatusCode.UNAUTHENTICATED


async def test_a_customer_token_cannot_retry_a_notification() -> None:
    h = Harness()
    n = await record(h, "ev-1", "cust-ada", "ord-1", email="not-an-address")

    reply = authenticated(h).unary(
        "RetryNotification",
        notify_pb2.RetryNotificationRequest(notification_id=n.notification_id),
        metadata=bearer("cust-ada", ROLE_CUSTOMER),
    )

    assert reply.code is grpc.StatusCode.PERMISSION_DENIED
    assert h.repo.rows[n.notification_id].status.value == "FAILED"  # nothing changed
