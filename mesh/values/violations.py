"""A problem with one field of a request: the one shape domains, use cases and errors share.

Standard library only, so a service's pure domain may raise it (the import-linter contract
allows a domain ``mesh.values`` and nothing else outside its own package).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request, named by its path (``items[2].quantity``)."""

    field: str
    description: str
