"""One root error type for the mesh, with subclasses that carry structured details.

Handlers raise these; the gRPC error interceptor turns them into a ``google.rpc.Status``
with the matching code and details (BadRequest, ErrorInfo, PreconditionFailure, QuotaFailure,
RetryInfo), in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc

from mesh.values.violations import FieldViolation

ERROR_DOMAIN = "oms.mesh"
# An InvalidArgument's message lists this many violations (the BadRequest detail has them all).
SUMMARY_VIOLATIONS = 5
# Request values quoted in an error message are cut to this many characters.
SHOWN_CHARS = 64


def shown(value: object, limit: int = SHOWN_CHARS, *, quoted: bool = True) -> str:
    """``value`` as quoted in an error message: its repr (``quoted``) or text, cut to about
    ``limit`` characters.

    Error messages travel in a trailer of bounded size and land in logs; a caller's value is
    never echoed in full (a 10,000-character id would overflow the trailer).
    """
    text = repr(value) if quoted and isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…({len(text)} chars)"


@dataclass(frozen=True)
class PreconditionViolation:
    """One unmet precondition: its type (``STOCK``, ``STATE``), subject and description."""

    type: str
    subject: str
    description: str


@dataclass(frozen=True)
class QuotaViolation:
    """One exhausted quota: whose (``principal:c-1``, ``process``) and which limit."""

    subject: str
    description: str


class MeshError(Exception):
    """Root of every error the mesh reports to a caller."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    reason: str = "INTERNAL"
    retriable = False

    def __init__(self, message: str, *, reason: str | None = None, metadata: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.metadata = dict(metadata or {})


class InvalidArgument(MeshError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "INVALID_ARGUMENT"

    def __init__(
        self, violations: list[FieldViolation], message: str | None = None, *, reason: str | None = None
    ) -> None:
        summary = message or "; ".join(f"{v.field}: {v.description}" for v in violations[:SUMMARY_VIOLATIONS])
        if message is None and len(violations) > SUMMARY_VIOLATIONS:
            summary += f"; and {len(violations) - SUMMARY_VIOLATIONS} more"
        super().__init__(summary, reason=reason)
        self.violations = violations


class NotFound(MeshError):
    code = grpc.StatusCode.NOT_FOUND
    reason = "NOT_FOUND"


class AlreadyExists(MeshError):
    code = grpc.StatusCode.ALREADY_EXISTS
    reason = "ALREADY_EXISTS"


class FailedPrecondition(MeshError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "FAILED_PRECONDITION"

    def __init__(
        self,
        message: str,
        *,
        violations: list[PreconditionViolation] | None = None,
        reason: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.violations = list(violations or [])


class Aborted(MeshError):
    """A concurrent change won (optimistic concurrency); the caller may re-read and retry."""

    code = grpc.StatusCode.ABORTED
    reason = "ABORTED"
    retriable = True


class PermissionDenied(MeshError):
    code = grpc.StatusCode.PERMISSION_DENIED
    reason = "PERMISSION_DENIED"


class Unauthenticated(MeshError):
    """The caller's credentials are missing, invalid or no longer valid (an expired token)."""

    code = grpc.StatusCode.UNAUTHENTICATED
    reason = "UNAUTHENTICATED"


class ResourceExhausted(MeshError):
    """A quota is used up (too many open streams); the caller may retry after ``retry_after_s``."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "RESOURCE_EXHAUSTED"
    retriable = True

    def __init__(
        self,
        message: str,
        *,
        violations: list[QuotaViolation] | None = None,
        retry_after_s: float | None = None,
        reason: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.violations = list(violations or [])
        self.retry_after_s = retry_after_s


class Internal(MeshError):
    """A bug; the message carries only an incident id (details are in the log)."""

    code = grpc.StatusCode.INTERNAL
    reason = "INTERNAL"


class Unavailable(MeshError):
    code = grpc.StatusCode.UNAVAILABLE
    reason = "UNAVAILABLE"
    retriable = True


@dataclass
class ViolationCollector:
    """Collects every field violation of a request so the caller sees them all at once."""

    violations: list[FieldViolation] = field(default_factory=list)

    def add(self, field_path: str, description: str) -> None:
        self.violations.append(FieldViolation(field_path, description))

    def raise_if_any(self) -> None:
        if self.violations:
            raise InvalidArgument(self.violations)
