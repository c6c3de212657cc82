"""A best-effort async cache over Redis: it never fails a caller, because Redis is a cache only and the
system keeps working while it is down (docs/architecture.md, "Redis is a cache only").

Every operation is bounded by ``timeout_s``; a Redis error or timeout is logged and counted
in ``oms_cache_errors_total`` and the call behaves as a miss (reads) or a no-op (writes). After
an error the cache is bypassed for ``breaker_s`` so a dead Redis costs at most one timeout per
second instead of one per call; redis-py reconnects on its own once Redis is back.

Stale data is the real danger of a cache that may be unreachable: an eviction that could not
be delivered is kept (bounded) and replayed before the next read is served from Redis, so this
process never reads a value its own writes were meant to remove. If too many pile up, the
whole key prefix is dropped instead.

List-like entries (pages) live in namespaces: ``namespace_token(ns)`` returns a random token
that is part of their keys and ``bump(ns)`` replaces it, so invalidating every page is one
write and no scan. Random tokens (not counters) stay safe when Redis loses the token key.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from mesh.settings.common import RedisSettings

log = logging.getLogger(__name__)

CACHE_ERRORS = Counter("oms_cache_errors_total", "Cache operations that failed or timed out.", ["service", "op"])
CACHE_HITS = Counter("oms_cache_hits_total", "Cache reads answered from Redis.", ["service"])
CACHE_MISSES = Counter("oms_cache_misses_total", "Cache reads that found nothing.", ["service"])
CACHE_BYPASSED = Counter(
    "oms_cache_bypassed_total", "Cache operations skipped while the cache was recently failing.", ["service", "op"]
)

T = TypeVar("T")


class _Failed(enum.Enum):
    FAILED = enum.auto()


_FAILED = _Failed.FAILED
# Beyond this many undelivered evictions, dropping the whole prefix is cheaper and safer.
MAX_PENDING_EVICTIONS = 10_000
# A namespace token that expires only turns its entries into misses; the TTL keeps tokens of
# namespaces nobody reads any more (deleted products) from piling up.
NAMESPACE_TTL_S = 24 * 3600


class Cache:
    """Bytes in, bytes out; keys are prefixed with ``key_prefix`` so services never collide."""

    def __init__(
        self,
        client: Redis,
        *,
        service: str,
        key_prefix: str,
        timeout_s: float,
        default_ttl_s: int,
        breaker_s: float = 1.0,
    ) -> None:
        self._client = client
        self._service = service
        self._prefix = key_prefix
        self._timeout_s = timeout_s
        self._default_ttl_s = default_ttl_s
        self._breaker_s = breaker_s
        self._skip_until = 0.0
        # Undelivered evictions, each with a sequence number: one that fails again while its
        # replay is in flight gets a new number and is not forgotten when the replay succeeds.
        self._pending_deletes: dict[str, int] = {}
        self._pending_bumps: dict[str, int] = {}
        self._sequence = 0
        self._drop_everything = False

    @classmethod
    def from_settings(cls, settings: RedisSettings, *, service: str, key_prefix: str, breaker_s: float = 1.0) -> Cache:
        """Builds the client without connecting (redis-py connects on first use)."""
        client = Redis.from_url(
            settings.url,
            socket_timeout=settings.timeout_s,
            socket_connect_timeout=settings.timeout_s,
            # A retry would multiply the worst-case cost of a dead Redis.
            retry=Retry(NoBackoff(), 0),
            **settings.tls_kwargs(),
        )
        return cls(
            client,
            service=service,
            key_prefix=key_prefix,
            timeout_s=settings.timeout_s,
            default_ttl_s=settings.ttl_s,
            breaker_s=breaker_s,
        )

    async def get(self, key: str) -> bytes | None:
        if not await self._replay_pending():
            return None
        value = await self._call("get", lambda: self._client.get(self._prefix + key))
        if isinstance(value, _Failed) or value is None:
            CACHE_MISSES.labels(self._service).inc()
            return None
        CACHE_HITS.labels(self._service).inc()
        return value if isinstance(value, bytes) else str(value).encode()

    async def set(self, key: str, value: bytes, ttl_s: int | None = None) -> None:
        if not await self._replay_pending():
            return  # writing now could resurrect what an undelivered eviction meant to remove
        await self._call("set", lambda: self._client.set(self._prefix + key, value, ex=ttl_s or self._default_ttl_s))

    async def delete(self, *keys: str) -> None:
        if not keys:
            return
        full = [self._prefix + key for key in keys]
        if self._bypassing("delete") or await self._call("delete", lambda: self._client.delete(*full)) is _FAILED:
            self._remember_deletes(full)

    async def namespace_token(self, namespace: str) -> str | None:
        """The current token of ``namespace`` (created when missing); None when unavailable."""
        if not await self._replay_pending():
            return None
        key = self._namespace_key(namespace)
        fresh = secrets.token_hex(8)

        async def read_or_create() -> bytes | None:
            # SET NX GET: one round trip that returns the existing token or installs ours.
            existing = await self._client.set(key, fresh, nx=True, get=True, ex=NAMESPACE_TTL_S)
            return existing if isinstance(existing, bytes) else None

        existing = await self._call("namespace", read_or_create)
        if isinstance(existing, _Failed):
            return None
        return fresh if existing is None else existing.decode()

    async def bump(self, namespace: str) -> None:
        """Invalidates every entry keyed under the namespace's token."""
        if self._bypassing("bump") or not await self._bump_now(namespace):
            self._pending_bumps[namespace] = self._next()

    async def delete_prefix(self, prefix: str = "") -> bool:
        """Drops every key under ``key_prefix + prefix`` (a SCAN: for rare, bulk invalidation)."""

        async def unlink_all() -> int:
            removed = 0
            batch: list[bytes] = []
            async for name in self._client.scan_iter(match=_glob_escape(self._prefix + prefix) + "*", count=500):
                batch.append(name)
                if len(batch) >= 500:
                    removed += await self._client.unlink(*batch)
                    batch = []
            if batch:
                removed += await self._client.unlink(*batch)
            return removed

        # A scan may legitimately take longer than one quick call; allow a few timeouts' worth.
        return await self._call("delete_prefix", unlink_all, timeout_s=self._timeout_s * 20) is not _FAILED

    async def close(self) -> None:
        await self._client.aclose()

    # --- internals -------------------------------------------------------------------------

    def _namespace_key(self, namespace: str) -> str:
        return f"{self._prefix}ns:{namespace}"

    async def _bump_now(self, namespace: str) -> bool:
        key = self._namespace_key(namespace)
        result = await self._call("bump", lambda: self._client.set(key, secrets.token_hex(8), ex=NAMESPACE_TTL_S))
        return result is not _FAILED

    def _next(self) -> int:
        self._sequence += 1
        return self._sequence

    def _remember_deletes(self, keys: list[str]) -> None:
        sequence = self._next()
        self._pending_deletes.update(dict.fromkeys(keys, sequence))
        if len(self._pending_deletes) > MAX_PENDING_EVICTIONS:
            self._pending_deletes.clear()
            self._drop_everything = True

    async def _replay_pending(self) -> bool:
        """Delivers evictions that failed earlier; False while they cannot be delivered."""
        if self._bypassing("replay"):
            return False
        if self._drop_everything:
            if not await self.delete_prefix():
                return False
            self._drop_everything = False
        if self._pending_deletes:
            snapshot = dict(self._pending_deletes)
            keys = list(snapshot)
            if await self._call("delete", lambda: self._client.delete(*keys)) is _FAILED:
                return False
            _forget(self._pending_deletes, snapshot)
        for namespace, sequence in list(self._pending_bumps.items()):
            if not await self._bump_now(namespace):
                return False
            _forget(self._pending_bumps, {namespace: sequence})
        return True

    def _bypassing(self, op: str) -> bool:
        if time.monotonic() < self._skip_until:
            CACHE_BYPASSED.labels(self._service, op).inc()
            return True
        return False

    async def _call(
        self, op: str, action: Callable[[], Awaitable[T]], *, timeout_s: float | None = None
    ) -> T | _Failed:
        try:
            async with asyncio.timeout(timeout_s or self._timeout_s):
                return await action()
        except (RedisError, OSError, TimeoutError) as exc:
            self._skip_until = time.monotonic() + self._breaker_s
            CACHE_ERRORS.labels(self._service, op).inc()
            log.warning("cache unavailable", extra={"op": op, "error": repr(exc), "bypass_s": self._breaker_s})
            return _FAILED


def _forget(pending: dict[str, int], delivered: dict[str, int]) -> None:
    for name, sequence in delivered.items():
        if pending.get(name) == sequence:
            del pending[name]


def _glob_escape(text: str) -> str:
    return "".join(f"\\{ch}" if ch in "*?[]\\" else ch for ch in text)
