"""The async SQLAlchemy engine for one service's own PostgreSQL database.

TLS to PostgreSQL is set in the database URL, with libpq's own parameters: ``sslmode``
(disable, allow, prefer, require, verify-ca, verify-full), ``sslrootcert`` (the CA file),
``sslcert``/``sslkey`` (a client certificate). asyncpg reads them itself from a plain DSN
(``asyncpg_dsn``, used by the LISTEN connections and the relay); SQLAlchemy would pass them
to asyncpg as unknown keyword arguments, so ``engine_url_and_args`` turns them into asyncpg's
``ssl`` argument for the engine.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession  # re-exported for handlers

from mesh.settings.common import ServiceSettings


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
    # Database spans come from the unit of work, one per transaction (mesh/storage/unit_of_work.py), not from
    # instrumenting every statement: ~3x fewer spans per order, within the tracing budget.
    # No overflow: an overflow connection is closed as soon as it is returned, so a load that
    # stays above the pool size opened and closed a PostgreSQL backend (a fork) per
    # transaction. A fixed pool is cheaper; a caller beyond it waits for a free connection.
    engine_url, tls_args = engine_url_and_args(url)
    engine = create_async_engine(
        engine_url,
        pool_size=pool_size,
        max_overflow=0,
        pool_recycle=1800,
        pool_timeout=10,
        connect_args={"server_settings": session_timeouts(lock_timeout_s, statement_timeout_s), **tls_args},
    )
    return engine


def service_engine(settings: ServiceSettings) -> AsyncEngine:
    """The pool of a service's own database, sized and time-limited by its ``OMS_<SERVICE>_DB_*``."""
    return create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        lock_timeout_s=settings.db_lock_timeout_s,
        statement_timeout_s=settings.db_statement_timeout_s,
    )


_LIBPQ_TLS = ("sslmode", "sslrootcert", "sslcert", "sslkey")
_NO_VERIFY_MODES = ("allow", "prefer")


def engine_url_and_args(url: str) -> tuple[URL, dict[str, Any]]:
    """``url`` without libpq's TLS parameters, and the asyncpg connect arguments they mean.

    ``require`` with a CA file verifies the certificate, as libpq does; ``verify-full`` also
    checks the host name. An unknown ``sslmode`` is a ValueError naming it (the process does
    not start), never a silent plaintext connection.
    """
    parsed = make_url(url)
    query = dict(parsed.query)
    tls = {key: _single(query.pop(key)) for key in _LIBPQ_TLS if key in query}
    if not tls:
        return parsed, {}
    parsed = parsed.set(query=query)
    mode = tls.get("sslmode", "prefer")
    if mode == "disable":
        return parsed, {"ssl": False}
    if mode in _NO_VERIFY_MODES:
        return parsed, {"ssl": mode}
    if mode not in ("require", "verify-ca", "verify-full"):
        raise ValueError(
            f"sslmode={mode[:20]!r} in the database URL: use disable, allow, prefer, require, verify-ca or verify-full"
        )
    root = tls.get("sslrootcert")
    context = ssl.create_default_context(cafile=root)
    if mode == "require" and not root:
        # Encrypted but unauthenticated, like libpq's require without a root certificate.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif mode != "verify-full":
        context.check_hostname = False
    if tls.get("sslcert"):
        context.load_cert_chain(tls["sslcert"], tls.get("sslkey"))
    return parsed, {"ssl": context}


def _single(value: str | tuple[str, ...]) -> str:
    return value if isinstance(value, str) else value[-1]


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
