"""Customer records on in-memory fakes: validation, normalisation, who may see and change whom."""

from __future__ import annotations

import pytest

from mesh.serving.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from order_svc.service_layer import customers
from order_svc.service_layer.customers import CustomerDraft
from tests.unit.order.fakes import ADMIN, Fakes, customer_caller


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


async def test_a_customer_creates_their_own_record_normalised(fakes: Fakes) -> None:
    created = await customers.create_customer(
        CustomerDraft("c-1", " Ada ", "Ada@Example.COM", "+4930123456"), customer_caller("c-1"), fakes.deps
    )
    assert (created.name, created.email, created.phone) == ("Ada", "ada@example.com", "+4930123456")
    assert created.created_at is not None
    assert fakes.store.tables.customers["c-1"] == created


async def test_an_admin_creates_a_record_with_a_generated_id(fakes: Fakes) -> None:
    created = await customers.create_customer(CustomerDraft("", "Bob", "bob@example.com", ""), ADMIN, fakes.deps)
    assert created.customer_id.startswith("c-")
    assert list(fakes.store.tables.customers) == [created.customer_id]


async def test_a_customer_cannot_create_someone_elses_record(fakes: Fakes) -> None:
    with pytest.raises(PermissionDenied):
        await customers.create_customer(
            CustomerDraft("c-2", "Eve", "eve@example.com", ""), customer_caller("c-1"), fakes.deps
        )
    assert fakes.store.tables.customers == {}


async def test_a_taken_id_already_exists(fakes: Fakes) -> None:
    fakes.store.add_customer("c-1")
    with pytest.raises(AlreadyExists):
        await customers.create_customer(CustomerDraft("c-1", "Ada", "ada@example.com", ""), ADMIN, fakes.deps)


async def test_every_bad_field_is_named(fakes: Fakes) -> None:
    with pytest.raises(InvalidArgument) as refused:
        await customers.create_customer(CustomerDraft("bad id!", " ", "not-an-email", "0301234"), ADMIN, fakes.deps)
    assert sorted(v.field for v in refused.value.violations) == [
        "customer.customer_id",
        "customer.email",
        "customer.name",
        "customer.phone",
    ]
    assert "not-an-email" not in refused.value.message  # the value is not echoed


async def test_get_shows_a_customer_only_their_own_record(fakes: Fakes) -> None:
    stored = fakes.store.add_customer("c-1")
    assert await customers.get_customer("c-1", customer_caller("c-1"), fakes.deps) == stored
    assert await customers.get_customer("c-1", ADMIN, fakes.deps) == stored
    with pytest.raises(NotFound):
        await customers.get_customer("c-1", customer_caller("c-2"), fakes.deps)
    with pytest.raises(NotFound):
        await customers.get_customer("nobody", ADMIN, fakes.deps)


async def test_update_changes_only_the_masked_fields(fakes: Fakes) -> None:
    fakes.store.add_customer("c-1", name="Ada", email="ada@example.com")
    draft = CustomerDraft("c-1", "Ada Lovelace", "IGNORED@example.com", "")
    updated = await customers.update_customer(draft, ["name"], customer_caller("c-1"), fakes.deps)
    assert (updated.name, updated.email) == ("Ada Lovelace", "ada@example.com")
    assert fakes.store.tables.customers["c-1"] == updated


@pytest.mark.parametrize(("paths", "problem"), [(["customer_id"], "cannot update"), ([], "names no field")])
async def test_update_refuses_a_mask_naming_nothing_updatable(fakes: Fakes, paths: list[str], problem: str) -> None:
    fakes.store.add_customer("c-1")
    with pytest.raises(InvalidArgument) as refused:
        await customers.update_customer(CustomerDraft("c-1", "X", "x@example.com", ""), paths, ADMIN, fakes.deps)
    assert [v.field for v in refused.value.violations] == ["update_mask"]
    assert problem in refused.value.violations[0].description


async def test_update_of_someone_else_or_nobody_is_not_found(fakes: Fakes) -> None:
    fakes.store.add_customer("c-2", name="Bob")
    draft = CustomerDraft("c-2", "Mallory", "", "")
    with pytest.raises(NotFound):
        await customers.update_customer(draft, ["name"], customer_caller("c-1"), fakes.deps)
    with pytest.raises(NotFound):
        await customers.update_customer(CustomerDraft("nobody", "X", "", ""), ["name"], ADMIN, fakes.deps)
    assert fakes.store.tables.customers["c-2"].name == "Bob"


async def test_list_pages_by_id(fakes: Fakes) -> None:
    for customer_id in ("c-3", "c-1", "c-2"):
        fakes.store.add_customer(customer_id)
    first = await customers.list_customers(limit=2, after="", deps=fakes.deps)
    rest = await customers.list_customers(limit=2, after=first[-1].customer_id, deps=fakes.deps)
    assert ([c.customer_id for c in first], [c.customer_id for c in rest]) == (["c-1", "c-2"], ["c-3"])
