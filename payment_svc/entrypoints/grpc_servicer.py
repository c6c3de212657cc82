"""gRPC PaymentService: requests to use-case calls, results to responses. Nothing else."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import grpc

from mesh.auth.principal import SYNTHETIC_ADMIN, current_principal
from mesh.serving.errors import InvalidArgument, PermissionDenied
from mesh.serving.wire import money, timestamp
from mesh.storage.paging import PageTokens, page_size
from mesh.values.violations import FieldViolation
from oms.payment.v1 import payment_pb2 as pb
from oms.payment.v1 import payment_pb2_grpc
from payment_svc.domain.model import Payment, PaymentStatus
from payment_svc.service_layer import payments, queries
from payment_svc.service_layer.ports import Cursor, Dependencies, ListQuery

Context = grpc.aio.ServicerContext[Any, Any]

STATUS_TO_PB = {status: pb.PaymentStatus.Value(f"PAYMENT_STATUS_{status.value}") for status in PaymentStatus}
_STATUS_FROM_PB = {value: status for status, value in STATUS_TO_PB.items()}


class PaymentServicer(payment_pb2_grpc.PaymentServiceServicer):
    """Who may call what is the auth interceptor's (the contract's authorization options); which
    payments a customer sees is decided here, on the stored payment."""

    def __init__(self, deps: Dependencies, page_tokens: PageTokens) -> None:
        self._deps = deps
        self._tokens = page_tokens

    async def GetPayment(self, request: pb.GetPaymentRequest, context: Context) -> pb.GetPaymentResponse:
        principal = current_principal() or SYNTHETIC_ADMIN
        viewer = None if principal.is_admin else principal.id
        payment = await queries.get_payment(request.order_id.strip(), viewer, self._deps)
        return pb.GetPaymentResponse(payment=to_pb(payment))

    async def ListPayments(self, request: pb.ListPaymentsRequest, context: Context) -> pb.ListPaymentsResponse:
        status = None
        if request.status != pb.PAYMENT_STATUS_UNSPECIFIED:
            status = _STATUS_FROM_PB.get(request.status)
            if status is None:
                raise InvalidArgument([FieldViolation("status", f"unknown status {request.status}")])
        filters = _filters(request)
        position = self._tokens.decode("payments", request.page_token, (datetime, str), filters=filters)
        query = ListQuery(
            limit=page_size(request.page_size),
            customer_id=_visible_customer(request),
            status=status,
            after=Cursor(*position) if position is not None else None,
        )
        page = await queries.list_payments(query, self._deps)
        token = ""
        if page.next is not None:
            token = self._tokens.encode("payments", [page.next.created_at, page.next.order_id], filters=filters)
        return pb.ListPaymentsResponse(payments=[to_pb(p) for p in page.payments], next_page_token=token)

    async def RefundPayment(self, request: pb.RefundPaymentRequest, context: Context) -> pb.RefundPaymentResponse:
        payment = await payments.refund_payment(request.order_id.strip(), request.reason, self._deps)
        return pb.RefundPaymentResponse(payment=to_pb(payment))


def _visible_customer(request: pb.ListPaymentsRequest) -> str:
    """Whose payments the caller may list: a customer only their own, an admin anyone's."""
    principal = current_principal() or SYNTHETIC_ADMIN
    if principal.is_admin:
        return request.customer_id
    # The interceptor has refused another customer's id already (owner_field); this is the
    # same rule where the data is read, so the filter can never be left off.
    if request.customer_id and request.customer_id != principal.id:
        raise PermissionDenied("a customer can list only their own payments")
    return principal.id


def _filters(request: pb.ListPaymentsRequest) -> dict[str, str | int]:
    return {"customer_id": request.customer_id, "status": request.status}


def to_pb(p: Payment) -> pb.Payment:
    message = pb.Payment(
        order_id=p.order_id,
        customer_id=p.customer_id,
        status=STATUS_TO_PB[p.status],
        provider=p.provider,
        provider_ref=p.provider_ref,
        decline_code=p.decline_code,
        reason=p.reason,
        attempt=p.attempt,
    )
    if p.order is not None:
        message.amount.CopyFrom(money(p.amount_minor, p.currency))
    if p.created_at is not None:
        message.create_time.CopyFrom(timestamp(p.created_at))
    if p.updated_at is not None:
        message.update_time.CopyFrom(timestamp(p.updated_at))
    return message
