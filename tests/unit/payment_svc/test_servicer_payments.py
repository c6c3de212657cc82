"""PaymentServicer's translation, in process with grpcio-testing over fakes: request → use case,
the caller's principal → whose payments, errors → status, result → response."""

from __future__ import annotations

import grpc

from mesh.auth.authorization import rules_of
from mesh.auth.interceptor import AuthServerInterceptor
from mesh.auth.minting import mint_token
from mesh.auth.principal import ROLE_ADMIN, ROLE_CUSTOMER, Principal
from mesh.auth.settings import AuthSettings
from mesh.auth.verification import TokenVerifier
from mesh.storage.paging import PageTokens
from oms.payment.v1 import payment_pb2 as pb
from payment_svc.bootstrap import SERVICES
from payment_svc.entrypoints.grpc_servicer import PaymentServicer
from payment_svc.service_layer import payments
from testkit.grpc_in_process import InProcess
from tests.unit.payment_svc.fakes import Harness

SERVICE = pb.DESCRIPTOR.services_by_name["PaymentService"]
ADA = Principal("cust-ada", frozenset({ROLE_CUSTOMER}))
BOB = Principal("cust-bob", frozenset({ROLE_CUSTOMER}))
ADMIN = Principal("ops-1", frozenset({ROLE_ADMIN}))


def serve(h: Harness, *, auth: AuthServerInterceptor | None = None) -> InProcess:
    return InProcess(PaymentServicer(h.deps, PageTokens.development()), SERVICE, auth=auth)


async def pay(h: Harness, order_id: str, customer_id: str, method: str = "tok_visa") -> None:
    placed = payments.OrderPlaced(f"p-{order_id}", order_id, customer_id, 1500, "EUR", [1500], method)
    await payments.order_placed(placed, h.deps)
    await payments.inventory_reserved(payments.InventoryReserved(f"r-{order_id}", order_id), h.deps)
    h.clock.advance(1)  # distinct create times: the listing's order is defined


async def test_a_payment_is_translated_field_by_field() -> None:
    h = Harness()
    await pay(h, "ord-1", "cust-ada")

    reply = serve(h).unary("GetPayment", pb.GetPaymentRequest(order_id="ord-1"), principal=ADA)

    assert reply.code is grpc.StatusCode.OK
    got = reply.response.payment
    assert (got.order_id, got.customer_id, got.status) == ("ord-1", "cust-ada", pb.PAYMENT_STATUS_AUTHORIZED)
    assert (got.amount.currency_code, got.amount.units, got.amount.nanos) == ("EUR", 15, 0)
    assert (got.provider, got.provider_ref, got.attempt) == ("fake", "pi_1", 1)
    assert got.HasField("create_time") and got.HasField("update_time")


async def test_another_customers_payment_is_not_found_and_an_admin_sees_it() -> None:
    h = Harness()
    await pay(h, "ord-1", "cust-ada")
    svc = serve(h)

    assert (
        svc.unary("GetPayment", pb.GetPaymentRequest(order_id="ord-1"), principal=BOB).code is grpc.StatusCode.NOT_FOUND
    )
    assert svc.unary("GetPayment", pb.GetPaymentRequest(order_id="ord-1"), principal=ADMIN).code is grpc.StatusCode.OK
    assert (
        svc.unary("GetPayment", pb.GetPaymentRequest(order_id="x"), principal=ADMIN).code is grpc.StatusCode.NOT_FOUND
    )


async def test_a_customer_lists_only_their_own_payments_page_by_page() -> None:
    h = Harness()
    for i in range(3):
        await pay(h, f"ord-ada-{i}", "cust-ada")
    await pay(h, "ord-bob", "cust-bob")
    svc = serve(h)

    first = svc.unary("ListPayments", pb.ListPaymentsRequest(page_size=2), principal=ADA).response
    second = svc.unary(
        "ListPayments", pb.ListPaymentsRequest(page_size=2, page_token=first.next_page_token), principal=ADA
    ).response
    everyone = svc.unary("ListPayments", pb.ListPaymentsRequest(), principal=ADMIN).response

    assert [p.order_id for p in first.payments] == ["ord-ada-2", "ord-ada-1"]
    assert [p.order_id for p in second.payments] == ["ord-ada-0"] and not second.next_page_token
    assert len(everyone.payments) == 4
    denied = svc.unary("ListPayments", pb.ListPaymentsRequest(customer_id="cust-bob"), principal=ADA)
    assert denied.code is grpc.StatusCode.PERMISSION_DENIED


async def test_a_status_filter_and_a_token_of_another_filter() -> None:
    h = Harness()
    await pay(h, "ord-1", "cust-ada")
    await pay(h, "ord-2", "cust-ada", method="decline")
    await pay(h, "ord-3", "cust-ada", method="decline")
    svc = serve(h)

    failed = svc.unary(
        "ListPayments", pb.ListPaymentsRequest(status=pb.PAYMENT_STATUS_FAILED, page_size=1), principal=ADMIN
    ).response
    assert [p.order_id for p in failed.payments] == ["ord-3"]
    other = svc.unary("ListPayments", pb.ListPaymentsRequest(page_token=failed.next_page_token), principal=ADMIN)
    assert other.code is grpc.StatusCode.INVALID_ARGUMENT
    unknown = svc.unary("ListPayments", pb.ListPaymentsRequest(status=99), principal=ADMIN)  # type: ignore[arg-type]
    assert unknown.code is grpc.StatusCode.INVALID_ARGUMENT and unknown.field_violations[0][0] == "status"


async def test_refund_is_for_admins_and_a_payment_holding_nothing_is_a_failed_precondition() -> None:
    h = Harness()
    await pay(h, "ord-1", "cust-ada")
    await pay(h, "ord-2", "cust-ada", method="decline")
    auth = AuthServerInterceptor(TokenVerifier(AuthSettings()), rules_of(SERVICES))
    svc = serve(h, auth=auth)

    def refund(order_id: str, subject: str, *roles: str) -> grpc.StatusCode:
        token = mint_token(subject, roles)
        metadata = (("authorization", f"Bearer {token}"),)
        return svc.unary("RefundPayment", pb.RefundPaymentRequest(order_id=order_id), metadata=metadata).code

    assert refund("ord-1", "cust-ada", ROLE_CUSTOMER) is grpc.StatusCode.PERMISSION_DENIED
    assert refund("ord-2", "ops-1", ROLE_ADMIN) is grpc.StatusCode.FAILED_PRECONDITION
    assert refund("ord-1", "ops-1", ROLE_ADMIN) is grpc.StatusCode.OK
    assert h.payment("ord-1").status.value == "REFUNDED"
