"""Domain objects ↔ protobuf messages of the API, at the edges only (events: event_mapping)."""

from __future__ import annotations

from mesh.serving.wire import money, optional_timestamp
from oms.order.v1 import customer_pb2, order_pb2
from order_svc.domain.customer import Customer
from order_svc.domain.model import Order
from order_svc.domain.status import OrderStatus

STATUS_TO_PROTO = {status: order_pb2.OrderStatus.Value(f"ORDER_STATUS_{status.value}") for status in OrderStatus}
STATUS_FROM_PROTO = {number: status for status, number in STATUS_TO_PROTO.items()}


def order_to_proto(order: Order) -> order_pb2.Order:
    return order_pb2.Order(
        order_id=order.order_id,
        customer_id=order.customer_id,
        status=STATUS_TO_PROTO[order.status],
        status_reason=order.status_reason,
        total=money(order.total_minor, order.currency),
        version=order.version,
        items=[
            order_pb2.OrderItem(
                product_id=line.product_id,
                quantity=line.quantity,
                product_name=line.product_name,
                unit_price=money(line.unit_price_minor, order.currency),
                line_total=money(line.line_total_minor, order.currency),
            )
            for line in order.lines
        ],
        shortfalls=[
            order_pb2.StockShortfall(product_id=s.product_id, requested=s.requested, available=s.available)
            for s in order.shortfalls
        ],
        create_time=optional_timestamp(order.created_at),
        update_time=optional_timestamp(order.updated_at),
    )


def customer_to_proto(customer: Customer) -> customer_pb2.Customer:
    return customer_pb2.Customer(
        customer_id=customer.customer_id,
        name=customer.name,
        email=customer.email,
        phone=customer.phone,
        create_time=optional_timestamp(customer.created_at),
        update_time=optional_timestamp(customer.updated_at),
    )
