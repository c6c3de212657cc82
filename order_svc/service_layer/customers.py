"""Customers: who places orders, and where notifications go."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from mesh.serving.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied, ViolationCollector, shown
from mesh.values.email_address import email_problem
from mesh.values.violations import FieldViolation
from order_svc.domain.customer import Customer
from order_svc.service_layer.ports import Caller, Dependencies

PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
CUSTOMER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
UPDATABLE = ("name", "email", "phone")


@dataclass(frozen=True)
class CustomerDraft:
    customer_id: str
    name: str
    email: str
    phone: str


def _check(draft: CustomerDraft, fields: tuple[str, ...], prefix: str = "customer.") -> None:
    problems = ViolationCollector()
    if "name" in fields and not draft.name.strip():
        problems.add(prefix + "name", "must not be empty")
    if "name" in fields and len(draft.name) > 200:
        problems.add(prefix + "name", "at most 200 characters")
    # The one syntax check of the mesh (deliverability is proven by mail), never echoing the value.
    if "email" in fields and (problem := email_problem(draft.email)) is not None:
        problems.add(prefix + "email", f"not an email address: {problem}")
    if "phone" in fields and draft.phone and not PHONE.match(draft.phone):
        problems.add(prefix + "phone", "must be in E.164 form, e.g. +4930123456")
    if "customer_id" in fields and draft.customer_id and not CUSTOMER_ID.match(draft.customer_id):
        problems.add(prefix + "customer_id", "1-64 letters, digits, '_', '.' or '-'")
    problems.raise_if_any()


async def create_customer(draft: CustomerDraft, caller: Caller, deps: Dependencies) -> Customer:
    _check(draft, ("customer_id", "name", "email", "phone"))
    customer_id = draft.customer_id or f"c-{uuid.uuid4().hex[:12]}"
    if not caller.may_act_for(customer_id):
        raise PermissionDenied("a customer can create only their own record (customer_id = token subject)")
    async with deps.uow() as uow:
        created = await uow.customers.add(
            Customer(customer_id, draft.name.strip(), draft.email.strip().lower(), draft.phone)
        )
        if created is None:
            raise AlreadyExists(f"customer {shown(customer_id)} already exists")
        await uow.commit()
    return created


async def get_customer(customer_id: str, caller: Caller, deps: Dependencies) -> Customer:
    if not caller.may_act_for(customer_id):
        raise NotFound(f"customer {shown(customer_id)} not found")
    async with deps.uow() as uow:
        customer = await uow.customers.get(customer_id)
    if customer is None:
        raise NotFound(f"customer {shown(customer_id)} not found")
    return customer


async def update_customer(draft: CustomerDraft, paths: list[str], caller: Caller, deps: Dependencies) -> Customer:
    unknown = [p for p in paths if p not in UPDATABLE]
    if unknown:
        raise InvalidArgument([FieldViolation("update_mask", f"cannot update {shown(p)}") for p in unknown])
    if not paths:
        raise InvalidArgument([FieldViolation("update_mask", "names no field to update")])
    _check(draft, tuple(paths))
    if not caller.may_act_for(draft.customer_id):
        raise NotFound(f"customer {shown(draft.customer_id)} not found")
    values = {"name": draft.name.strip(), "email": draft.email.strip().lower(), "phone": draft.phone}
    async with deps.uow() as uow:
        updated = await uow.customers.update(draft.customer_id, {p: values[p] for p in paths})
        if updated is None:
            raise NotFound(f"customer {shown(draft.customer_id)} not found")
        await uow.commit()
    return updated


async def list_customers(*, limit: int, after: str, deps: Dependencies) -> list[Customer]:
    async with deps.uow() as uow:
        return await uow.customers.find_page(limit=limit, after=after)
