"""CustomerService's translation, in process on grpcio-testing: messages ↔ drafts and records, the
update mask, refusals as status codes with BadRequest details, the caller from the principal."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import field_mask_pb2

from mesh.auth.principal import Principal
from mesh.storage.paging import PageTokens
from oms.order.v1 import customer_pb2
from order_svc.entrypoints.customer_servicer import CustomerServicer
from testkit.grpc_in_process import InProcess
from tests.unit.order.fakes import Fakes

SERVICE = customer_pb2.DESCRIPTOR.services_by_name["CustomerService"]
ADMIN = Principal("admin-1", frozenset({"admin"}))
ADA = Principal("c-1", frozenset({"customer"}))
BOB = Principal("c-2", frozenset({"customer"}))


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
async def customers(fakes: Fakes) -> InProcess:
    return InProcess(CustomerServicer(fakes.deps, PageTokens(b"k" * 32)), SERVICE)


def create(customer_id: str, name: str = "Ada", email: str = "ada@example.com") -> customer_pb2.CreateCustomerRequest:
    return customer_pb2.CreateCustomerRequest(
        customer=customer_pb2.Customer(customer_id=customer_id, name=name, email=email, phone="+4930123456")
    )


async def test_create_answers_the_stored_record(customers: InProcess, fakes: Fakes) -> None:
    created = await customers.call("CreateCustomer", create("c-1", name=" Ada "), principal=ADA)
    record = created.response.customer
    assert (record.customer_id, record.name, record.email, record.phone) == (
        "c-1",
        "Ada",
        "ada@example.com",
        "+4930123456",
    )
    assert record.HasField("create_time") and record.HasField("update_time")
    assert fakes.store.tables.customers["c-1"].name == "Ada"


async def test_create_refusals_carry_their_codes(customers: InProcess, fakes: Fakes) -> None:
    fakes.store.add_customer("c-1")
    taken = await customers.call("CreateCustomer", create("c-1"), principal=ADMIN)
    for_someone_else = await customers.call("CreateCustomer", create("c-3"), principal=ADA)
    bad = await customers.call("CreateCustomer", create("bad id!", name=" "), principal=ADMIN)

    assert taken.code is grpc.StatusCode.ALREADY_EXISTS
    assert for_someone_else.code is grpc.StatusCode.PERMISSION_DENIED
    assert bad.code is grpc.StatusCode.INVALID_ARGUMENT
    assert sorted(field for field, _ in bad.field_violations) == ["customer.customer_id", "customer.name"]


async def test_get_needs_an_id_and_shows_a_customer_only_their_own(customers: InProcess, fakes: Fakes) -> None:
    fakes.store.add_customer("c-1")
    mine = await customers.call("GetCustomer", customer_pb2.GetCustomerRequest(customer_id="c-1"), principal=ADA)
    theirs = await customers.call("GetCustomer", customer_pb2.GetCustomerRequest(customer_id="c-1"), principal=BOB)
    empty = await customers.call("GetCustomer", customer_pb2.GetCustomerRequest(), principal=ADMIN)

    assert mine.response.customer.customer_id == "c-1"
    assert theirs.code is grpc.StatusCode.NOT_FOUND
    assert empty.code is grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in empty.field_violations] == ["customer_id"]


async def test_update_with_a_mask_changes_only_the_named_fields(customers: InProcess, fakes: Fakes) -> None:
    fakes.store.add_customer("c-1", name="Ada", email="ada@example.com")
    request = customer_pb2.UpdateCustomerRequest(
        customer=customer_pb2.Customer(customer_id="c-1", name="Ada Lovelace", email="other@example.com"),
        update_mask=field_mask_pb2.FieldMask(paths=["name"]),
    )
    updated = await customers.call("UpdateCustomer", request, principal=ADA)
    assert (updated.response.customer.name, updated.response.customer.email) == ("Ada Lovelace", "ada@example.com")


async def test_update_without_a_mask_changes_the_fields_the_request_carries(customers: InProcess, fakes: Fakes) -> None:
    fakes.store.add_customer("c-1", name="Ada", email="ada@example.com")
    request = customer_pb2.UpdateCustomerRequest(customer=customer_pb2.Customer(customer_id="c-1", phone="+4930999999"))
    updated = await customers.call("UpdateCustomer", request, principal=ADA)
    assert (updated.response.customer.name, updated.response.customer.phone) == ("Ada", "+4930999999")


async def test_update_refusals(customers: InProcess, fakes: Fakes) -> None:
    fakes.store.add_customer("c-2")
    no_id = customer_pb2.UpdateCustomerRequest(customer=customer_pb2.Customer(name="X"))
    bad_mask = customer_pb2.UpdateCustomerRequest(
        customer=customer_pb2.Customer(customer_id="c-2", name="X"),
        update_mask=field_mask_pb2.FieldMask(paths=["customer_id"]),
    )
    someone_else = customer_pb2.UpdateCustomerRequest(customer=customer_pb2.Customer(customer_id="c-2", name="X"))

    missing_id = await customers.call("UpdateCustomer", no_id, principal=ADMIN)
    masked = await customers.call("UpdateCustomer", bad_mask, principal=ADMIN)
    hidden = await customers.call("UpdateCustomer", someone_else, principal=ADA)

    assert [field for field, _ in missing_id.field_violations] == ["customer.customer_id"]
    assert (masked.code, [field for field, _ in masked.field_violations]) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        ["update_mask"],
    )
    assert hidden.code is grpc.StatusCode.NOT_FOUND
    assert fakes.store.tables.customers["c-2"].name == "Ada"


async def test_list_pages_with_a_signed_token(customers: InProcess, fakes: Fakes) -> None:
    for customer_id in ("c-1", "c-2", "c-3"):
        fakes.store.add_customer(customer_id)
    first = await customers.call("ListCustomers", customer_pb2.ListCustomersRequest(page_size=2), principal=ADMIN)
    token = first.response.next_page_token
    rest = await customers.call("ListCustomers", customer_pb2.ListCustomersRequest(page_token=token), principal=ADMIN)
    forged = await customers.call("ListCustomers", customer_pb2.ListCustomersRequest(page_token="x"), principal=ADMIN)

    assert [c.customer_id for c in first.response.customers] == ["c-1", "c-2"]
    assert ([c.customer_id for c in rest.response.customers], rest.response.next_page_token) == (["c-3"], "")
    assert forged.code is grpc.StatusCode.INVALID_ARGUMENT
