"""Customers on a real database: create, read, update by mask, list, and who may do what."""

from __future__ import annotations

import pytest

from mesh.serving.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from order_svc.service_layer.customers import (
    CustomerDraft,
    create_customer,
    get_customer,
    list_customers,
    update_customer,
)
from order_svc.service_layer.ports import Caller, Dependencies

pytestmark = pytest.mark.integration
ADMIN = Caller("admin-1", is_admin=True)


async def test_create_get_update_list(deps: Dependencies) -> None:
    created = await create_customer(
        CustomerDraft("c-ada", "Ada Lovelace", "Ada@Example.com", "+4930123456"), ADMIN, deps
    )
    assert created.email == "ada@example.com"
    assert (await get_customer("c-ada", ADMIN, deps)).name == "Ada Lovelace"

    updated = await update_customer(CustomerDraft("c-ada", "", "ada@newmail.org", ""), ["email"], ADMIN, deps)
    assert (updated.name, updated.email, updated.phone) == ("Ada Lovelace", "ada@newmail.org", "+4930123456")

    generated = await create_customer(CustomerDraft("", "Grace Hopper", "grace@example.com", ""), ADMIN, deps)
    assert generated.customer_id.startswith("c-")
    first = await list_customers(limit=1, after="", deps=deps)
    rest = await list_customers(limit=10, after=first[0].customer_id, deps=deps)
    assert {c.customer_id for c in first + rest} == {"c-ada", generated.customer_id}


async def test_bad_fields_are_all_named(deps: Dependencies) -> None:
    with pytest.raises(InvalidArgument) as raised:
        await create_customer(CustomerDraft("bad id!", " ", "not-an-email", "12345"), ADMIN, deps)
    assert {v.field for v in raised.value.violations} == {
        "customer.customer_id",
        "customer.name",
        "customer.email",
        "customer.phone",
    }
    with pytest.raises(InvalidArgument):
        await update_customer(CustomerDraft("c-x", "", "", ""), ["customer_id"], ADMIN, deps)


async def test_duplicates_and_missing(deps: Dependencies) -> None:
    await create_customer(CustomerDraft("c-dup", "Dup", "dup@example.com", ""), ADMIN, deps)
    with pytest.raises(AlreadyExists):
        await create_customer(CustomerDraft("c-dup", "Dup", "dup@example.com", ""), ADMIN, deps)
    with pytest.raises(NotFound):
        await get_customer("c-nobody", ADMIN, deps)


async def test_a_customer_manages_only_their_own_record(deps: Dependencies) -> None:
    ada = Caller("c-ada2", is_admin=False)
    await create_customer(CustomerDraft("c-ada2", "Ada", "ada2@example.com", ""), ada, deps)
    with pytest.raises(PermissionDenied):
        await create_customer(CustomerDraft("c-other", "Eve", "eve@example.com", ""), ada, deps)
    await create_customer(CustomerDraft("c-bob", "Bob", "bob@example.com", ""), ADMIN, deps)
    with pytest.raises(NotFound):
        await get_customer("c-bob", ada, deps)
