"""Domain violations to the mesh's API errors."""

from __future__ import annotations

from inventory_svc.domain.validation import Violations
from mesh.serving.errors import InvalidArgument, NotFound, shown
from mesh.values.violations import FieldViolation


def raise_if_invalid(violations: Violations) -> None:
    if violations:
        raise InvalidArgument(list(violations.items))


def product_not_found(product_id: str) -> NotFound:
    return NotFound(f"product {shown(product_id)} does not exist", metadata={"product_id": product_id})


def require_id(product_id: str, field: str = "product_id") -> None:
    if not product_id:
        raise InvalidArgument([FieldViolation(field, "must not be empty")])
