"""Which failures are transient (retried forever, never dead-lettered) and which count towards the
poison limit: asyncpg's own exceptions, and the same ones as SQLAlchemy's asyncpg dialect wraps
them (DBAPIError whose ``orig`` carries the SQLSTATE and whose cause chain ends in asyncpg's)."""

from __future__ import annotations

import asyncpg
import pytest
from google.protobuf.message import DecodeError
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from mesh.resilience.retry import is_transient

DBAPI = AsyncAdapt_asyncpg_dbapi(asyncpg)  # type: ignore[no-untyped-call]


def through_sqlalchemy(error: BaseException) -> DBAPIError:
    """``error`` as SQLAlchemy's asyncpg dialect raises it: translated, then wrapped, both chained."""
    mapping = DBAPI._asyncpg_error_translate
    translate = next(mapping[cls] for cls in type(error).__mro__ if cls in mapping)
    translated = translate(f"{type(error)}: {error}")
    translated.pgcode = translated.sqlstate = getattr(error, "sqlstate", None)
    try:
        try:
            raise translated from error
        except DBAPI.Error as orig:
            raise DBAPIError.instance("SELECT 1", {"p": 1}, orig, DBAPI.Error) from orig
    except DBAPIError as wrapped:
        return wrapped
    raise AssertionError("unreachable")


TRANSIENT = [
    asyncpg.exceptions.LockNotAvailableError("canceling statement due to lock timeout"),
    asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
    asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.exceptions.InsufficientResourcesError("out of shared memory"),
    asyncpg.exceptions.DiskFullError("could not extend file"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.exceptions.ConnectionFailureError("connection failure"),
    asyncpg.exceptions.ClientCannotConnectError("cannot connect"),
    asyncpg.exceptions.ProtocolViolationError("protocol violation"),
    asyncpg.exceptions.SerializationError("could not serialize access"),
    asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.CrashShutdownError("terminating connection because of crash of another server process"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.ReadOnlySQLTransactionError("cannot execute UPDATE in a read-only transaction"),
    asyncpg.exceptions.InterfaceError("connection is closed"),
]
POISON = [
    asyncpg.exceptions.UniqueViolationError("duplicate key value violates unique constraint"),
    asyncpg.exceptions.NumericValueOutOfRangeError("bigint out of range"),
    asyncpg.exceptions.CheckViolationError("new row violates check constraint"),
    asyncpg.exceptions.UndefinedColumnError('column "x" does not exist'),
    asyncpg.exceptions.StringDataRightTruncationError("value too long for type character varying(3)"),
    asyncpg.exceptions.InvalidTextRepresentationError("invalid input syntax for type uuid"),
]


@pytest.mark.parametrize("error", TRANSIENT, ids=lambda e: type(e).__name__)
def test_infrastructure_failures_are_transient_raw_and_through_sqlalchemy(error: BaseException) -> None:
    assert is_transient(error)
    assert is_transient(through_sqlalchemy(error))


@pytest.mark.parametrize("error", POISON, ids=lambda e: type(e).__name__)
def test_failures_of_the_data_are_not_transient_raw_or_through_sqlalchemy(error: BaseException) -> None:
    assert not is_transient(error)
    assert not is_transient(through_sqlalchemy(error))


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        OSError(113, "No route to host"),
        TimeoutError(),  # asyncpg's connect and command timeouts
        PoolTimeout("QueuePool limit of size 20 overflow 0 reached"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_an_unreachable_database_is_transient(error: BaseException) -> None:
    assert is_transient(error)


def test_a_transient_error_is_found_behind_the_exceptions_that_carry_it() -> None:
    try:
        try:
            raise through_sqlalchemy(asyncpg.exceptions.LockNotAvailableError("lock timeout"))
        except DBAPIError as exc:
            raise RuntimeError("reserving failed") from exc
    except RuntimeError as outer:
        assert is_transient(outer)


def test_the_text_of_a_data_error_never_makes_it_transient() -> None:
    # The detail of a duplicate key quotes the data, which a client chose.
    error = asyncpg.exceptions.UniqueViolationError(
        "duplicate key: Key (email)=(the database system is starting up; cannot connect now) already exists"
    )
    assert not is_transient(error)
    assert not is_transient(through_sqlalchemy(error))


def test_messages_that_can_never_succeed_are_not_transient() -> None:
    assert not is_transient(DecodeError("truncated message"))
    assert not is_transient(ValueError("quantity must be positive"))
    try:
        try:
            raise TimeoutError
        except TimeoutError:
            raise ValueError("bad event") from None
    except ValueError as exc:
        assert not is_transient(exc), "a cause explicitly dropped is not looked at"


def test_a_cycle_of_causes_ends() -> None:
    first, second = ValueError("a"), ValueError("b")
    first.__cause__, second.__cause__ = second, first
    assert not is_transient(first)
