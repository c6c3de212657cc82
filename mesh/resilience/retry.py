"""Exponential backoff with jitter, and which failures are worth retrying."""

from __future__ import annotations

import asyncio
import contextlib
import random

import asyncpg
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout


class Backoff:
    """Delays that double from ``initial_s`` up to ``max_s``, with full jitter."""

    def __init__(self, *, initial_s: float = 0.1, max_s: float = 10.0) -> None:
        self._initial = initial_s
        self._max = max_s
        self.attempts = 0

    def reset(self) -> None:
        self.attempts = 0

    def next_delay(self) -> float:
        ceiling = min(self._max, self._initial * (2**self.attempts))
        self.attempts += 1
        return random.uniform(ceiling / 2, ceiling)

    async def wait(self, stop: asyncio.Event | None = None) -> None:
        delay = self.next_delay()
        if stop is None:
            await asyncio.sleep(delay)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)


# SQLSTATEs of failures of the moment, not of the message: retrying the transaction later
# succeeds once the lock is free, the server is back or a connection slot is available.
TRANSIENT_SQLSTATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available (lock_timeout)
        "57014",  # query_canceled (statement_timeout)
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (starting up, in recovery)
        "25006",  # read_only_sql_transaction (a failover in progress: still the old primary's standby)
    }
)
# Whole classes: 08 connection exception, 53 insufficient resources (too many connections,
# out of memory, disk full), 58 system error (I/O error in the server).
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "53", "58"})
# What a server that is starting or stopping says when no SQLSTATE came with it.
_TRANSIENT_TEXTS = (
    "cannot connect now",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "connection is closed",
    "connection was closed in the middle of operation",
)


def transient_sqlstate(sqlstate: str | None) -> bool:
    if not sqlstate:
        return False
    return sqlstate in TRANSIENT_SQLSTATES or sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES


def is_transient(exc: BaseException) -> bool:
    """True for failures of the infrastructure (database down, timeouts, locks), not of the message.

    Transient failures are retried forever without skipping the message; anything else
    (a constraint violated, a value out of range, a bug) counts towards the poison-message
    limit. SQLAlchemy wraps asyncpg's errors (``DBAPIError.orig`` carries the SQLSTATE, and
    its ``__cause__`` is asyncpg's exception), so the whole chain of causes is looked at.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _transient_itself(current):
            return True
        # An explicit cause (raise ... from), else the error being handled when this one
        # was raised, unless the code said that one does not matter (raise ... from None).
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return False


def _transient_itself(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | PoolTimeout | OSError | TimeoutError | asyncpg.InterfaceError):
        # OSError covers ConnectionRefusedError and an unreachable host; TimeoutError covers
        # asyncpg's connect and command timeouts.
        return True
    if isinstance(exc, asyncpg.PostgresConnectionError | asyncpg.CannotConnectNowError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        sqlstate = getattr(exc.orig, "sqlstate", None)
    elif isinstance(exc, asyncpg.PostgresError):
        sqlstate = getattr(exc, "sqlstate", None)
    else:
        return False
    if sqlstate:
        return transient_sqlstate(sqlstate)
    # Only an error without a SQLSTATE is judged by its text: a SQLSTATE'd one may quote the
    # data (a duplicate key's value), which must never make a poison message look transient.
    # (SQLAlchemy's own text also lists the statement's parameters: not looked at.)
    text = str(exc.orig if isinstance(exc, DBAPIError) else exc).lower()
    return any(known in text for known in _TRANSIENT_TEXTS)
