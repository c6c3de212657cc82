"""mesh.storage.cache against an in-memory stand-in for the Redis client: never raises, bypasses
after an error, and replays evictions it could not deliver before reading again."""

from __future__ import annotations

from typing import Any, cast

from redis.exceptions import ConnectionError as RedisConnectionError

from mesh.storage.cache import Cache


class FlakyRedis:
    """Just the commands Cache uses; ``down`` makes every command fail like a dead server."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.down = False
        self.calls = 0

    def _check(self) -> None:
        self.calls += 1
        if self.down:
            raise RedisConnectionError("connection refused")

    async def get(self, key: str) -> bytes | None:
        self._check()
        return self.data.get(key)

    async def set(self, key: str, value: Any, ex: int | None = None, nx: bool = False, get: bool = False) -> Any:
        self._check()
        old = self.data.get(key)
        if not (nx and old is not None):
            self.data[key] = value if isinstance(value, bytes) else str(value).encode()
        return old if get else True

    async def delete(self, *keys: str) -> int:
        self._check()
        return sum(self.data.pop(key, None) is not None for key in keys)

    async def aclose(self) -> None:
        pass


def _cache(client: FlakyRedis, breaker_s: float = 1.0) -> Cache:
    return Cache(
        cast(Any, client), service="test", key_prefix="t:", timeout_s=0.05, default_ttl_s=60, breaker_s=breaker_s
    )


async def test_round_trip_and_delete() -> None:
    client = FlakyRedis()
    cache = _cache(client)
    await cache.set("k", b"v")
    assert await cache.get("k") == b"v"
    await cache.delete("k")
    assert await cache.get("k") is None


async def test_errors_are_misses_and_the_cache_is_bypassed_for_a_while() -> None:
    client = FlakyRedis()
    cache = _cache(client, breaker_s=60)
    client.down = True
    assert await cache.get("k") is None
    calls = client.calls
    for _ in range(20):
        assert await cache.get("k") is None
        await cache.set("k", b"v")
    assert client.calls == calls, "a failing Redis was called again inside the bypass period"


async def test_missed_eviction_is_replayed_before_the_next_read() -> None:
    client = FlakyRedis()
    cache = _cache(client, breaker_s=0)
    await cache.set("k", b"old")
    client.down = True
    await cache.delete("k")
    client.down = False
    assert await cache.get("k") is None, "the stale value survived an undelivered eviction"


async def test_namespace_bump_hides_old_entries_even_when_missed() -> None:
    client = FlakyRedis()
    cache = _cache(client, breaker_s=0)
    token = await cache.namespace_token("pages")
    assert token is not None and await cache.namespace_token("pages") == token
    client.down = True
    await cache.bump("pages")
    assert await cache.namespace_token("pages") is None
    client.down = False
    fresh = await cache.namespace_token("pages")
    assert fresh is not None and fresh != token
