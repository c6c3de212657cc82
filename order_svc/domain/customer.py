"""A customer: who places orders, and where their notifications go."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Customer:
    customer_id: str
    name: str
    email: str
    phone: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
