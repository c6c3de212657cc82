"""The async SQLAlchemy engine for one service's own PostgreSQL database."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession  # re-exported for handlers


class DatabaseUnreachable(Exception):
    """The database did not answer at start; the message says where and why."""


def create_engine(
    url: str, *, pool_size: int = 20, lock_timeout_s: float = 2.0, statement_timeout_s: float = 10.0
) -> AsyncEngine:
    """The pool of one service's database.

    Every session waits at most ``lock_timeout_s`` for a row lock and runs a statement for at
    most ``statement_timeout_s`` (0: no limit): a lock held elsewhere, or a runaway query,
    fails fast with 55P03 / 57014, which callers treat as transient (consumers retry the event
    with backoff, RPC callers get UNAVAILABLE), instead of hanging a consumer or a request.
    """
    # No pool_pre_ping: it costs a round trip on every checkout. A connection that died with a
    # PostgreSQL restart fails its first use with a transient error instead (retried by
    # consumers, UNAVAILABLE to RPC callers) and the pool replaces it.
    # Database spans come from the unit of work, one per transaction (mesh/uow.py), not from
    # instrumenting every statement: ~3x fewer spans per order, within the tracing budget.
    # No overflow: an overflow connection is closed as soon as it is returned, so a load that
    # stays above the pool size opened and closed a PostgreSQL backend (a fork) per
    # transaction. A fixed pool is cheaper; a caller beyond it waits for a free connection.
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_recycle=1800,
        pool_timeout=10,
        connect_args={"server_settings": session_timeouts(lock_timeout_s, statement_timeout_s)},
    )
    return engine


def session_timeouts(lock_timeout_s: float, statement_timeout_s: float) -> dict[str, str]:
    """PostgreSQL settings of every connection (milliseconds), sent by asyncpg at connect."""
    return {
        "lock_timeout": str(round(lock_timeout_s * 1000)),
        "statement_timeout": str(round(statement_timeout_s * 1000)),
    }


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def asyncpg_dsn(url: str) -> str:
    """The plain ``postgresql://`` DSN asyncpg itself accepts (no ``+asyncpg`` driver part)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def check_reachable(engine: AsyncEngine, *, variable: str, timeout_s: float = 5.0) -> None:
    """Fails start-up with one clear line when the database cannot be reached."""
    try:
        async with asyncio.timeout(timeout_s):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except (OSError, TimeoutError, Exception) as exc:
        cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatabaseUnreachable(
            f"cannot reach the database {redacted(str(engine.url))} ({variable}): {cause}"
        ) from exc
