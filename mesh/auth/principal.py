"""Who is calling: the principal a verified token names, and the RPC's current one."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field

ROLE_CUSTOMER = "customer"
ROLE_ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``id`` is the token's ``sub`` (a customer's customer_id)."""

    id: str
    roles: frozenset[str] = field(default_factory=frozenset)
    # Unix time after which the token is refused (its ``exp`` plus the leeway); long-lived streams
    # end then. None: no token (auth disabled). Not part of equality: it describes the token.
    expires_at: float | None = field(default=None, compare=False)

    @property
    def is_admin(self) -> bool:
        return ROLE_ADMIN in self.roles


# Used when auth is disabled, so handlers never need a "no auth" branch of their own.
SYNTHETIC_ADMIN = Principal(id="auth-disabled", roles=frozenset({ROLE_ADMIN}))
# A caller without a token, on a public RPC: no id, no roles.
ANONYMOUS = Principal(id="", roles=frozenset())

_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("oms_principal", default=None)


def current_principal() -> Principal | None:
    """The caller of the RPC being handled; None outside an authenticated RPC."""
    return _current.get()


def set_current_principal(principal: Principal) -> None:
    """Called by the interceptor inside the RPC's own task, so it never leaks between calls."""
    _current.set(principal)
