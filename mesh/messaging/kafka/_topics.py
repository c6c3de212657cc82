"""Topic names under a prefix, each topic with its dead-letter topic.

Which topics exist is each service's policy: it names the ones it publishes to and consumes
from (``<service>/adapters/topics.py``) and hands them to mesh at start, which creates them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    """Topic names under one prefix (tests use a unique prefix per run)."""

    prefix: str = ""

    def name(self, topic: str) -> str:
        """The full name of the service-declared ``topic`` ("orders" → "<prefix>orders")."""
        return f"{self.prefix}{topic}"

    @staticmethod
    def dead_letter(topic: str) -> str:
        return f"{topic}.dlq"
