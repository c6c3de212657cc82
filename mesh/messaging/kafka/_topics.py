"""Topic names: one topic per aggregate type, each with its dead-letter topic."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    """The mesh's topics under one prefix (tests use a unique prefix per run)."""

    prefix: str = ""

    @property
    def orders(self) -> str:
        return f"{self.prefix}orders"

    @property
    def inventory(self) -> str:
        return f"{self.prefix}inventory"

    @property
    def payments(self) -> str:
        return f"{self.prefix}payments"

    def all_primary(self) -> list[str]:
        return [self.orders, self.inventory, self.payments]

    @staticmethod
    def dead_letter(topic: str) -> str:
        return f"{topic}.dlq"
