"""gRPC CustomerService."""

from __future__ import annotations

import grpc

from mesh.serving.errors import InvalidArgument
from mesh.storage.paging import PageTokens, page_size
from mesh.values.violations import FieldViolation
from oms.order.v1 import customer_pb2, customer_pb2_grpc
from order_svc.adapters.proto_mapping import customer_to_proto
from order_svc.entrypoints.caller import caller_of
from order_svc.service_layer import customers
from order_svc.service_layer.ports import Dependencies


def _draft(message: customer_pb2.Customer) -> customers.CustomerDraft:
    return customers.CustomerDraft(message.customer_id, message.name, message.email, message.phone)


class CustomerServicer(customer_pb2_grpc.CustomerServiceServicer):
    def __init__(self, deps: Dependencies, page_tokens: PageTokens) -> None:
        self._deps = deps
        self._tokens = page_tokens

    async def CreateCustomer(
        self, request: customer_pb2.CreateCustomerRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.CreateCustomerResponse:
        created = await customers.create_customer(_draft(request.customer), caller_of(context), self._deps)
        return customer_pb2.CreateCustomerResponse(customer=customer_to_proto(created))

    async def GetCustomer(
        self, request: customer_pb2.GetCustomerRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.GetCustomerResponse:
        if not request.customer_id:
            raise InvalidArgument([FieldViolation("customer_id", "must not be empty")])
        found = await customers.get_customer(request.customer_id, caller_of(context), self._deps)
        return customer_pb2.GetCustomerResponse(customer=customer_to_proto(found))

    async def UpdateCustomer(
        self, request: customer_pb2.UpdateCustomerRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.UpdateCustomerResponse:
        if not request.customer.customer_id:
            raise InvalidArgument([FieldViolation("customer.customer_id", "must not be empty")])
        paths = list(request.update_mask.paths)
        if not paths:
            # No mask: every updatable field the request carries (AIP-134).
            paths = [f for f in customers.UPDATABLE if getattr(request.customer, f)]
        updated = await customers.update_customer(_draft(request.customer), paths, caller_of(context), self._deps)
        return customer_pb2.UpdateCustomerResponse(customer=customer_to_proto(updated))

    async def ListCustomers(
        self, request: customer_pb2.ListCustomersRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.ListCustomersResponse:
        position = self._tokens.decode("customers", request.page_token, (str,))
        limit = page_size(request.page_size)
        found = await customers.list_customers(limit=limit + 1, after=position[0] if position else "", deps=self._deps)
        page = found[:limit]
        token = self._tokens.encode("customers", [page[-1].customer_id]) if len(found) > limit else ""
        return customer_pb2.ListCustomersResponse(customers=[customer_to_proto(c) for c in page], next_page_token=token)
