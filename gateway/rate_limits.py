"""Rate limits per caller and route class, shared by the gateway's replicas through Redis.

A caller is the token's subject, or the client address for a call without a token (and with
auth disabled, where everyone is the same synthetic admin). Each route belongs to one class,
with its own limit (``OMS_GATEWAY_RATE_LIMIT_*``): streams (server-streaming methods, counted
when opened), placement (PlaceOrder), writes (other methods but GET/HEAD) and reads.

The counting is the ``limits`` library's sliding window counter: two counters per caller and
class, one short script per call, so a budget costs the same whatever its size (a moving
window keeps one entry per request), and a caller cannot spend twice the budget around a
window boundary as a fixed window allows (the weighted previous window smooths it).

Redis is shared state, not a dependency the gateway may fail on: each decision waits on it at
most ``OMS_GATEWAY_RATE_LIMIT_REDIS_TIMEOUT_S``; after a failure the gateway decides with an
in-process limit of the same size for ``OMS_GATEWAY_RATE_LIMIT_BREAKER_S`` before it tries
Redis again, so a dead Redis costs one timeout per breaker period, not one per call.

Every answer to a routed call carries ``RateLimit-Policy`` and ``RateLimit``
(draft-ietf-httpapi-ratelimit-headers, structured fields); a refusal is 429 with Retry-After
and a RESOURCE_EXHAUSTED status with QuotaFailure and RetryInfo details.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response

from gateway.descriptors import Binding
from gateway.errors import HttpError
from gateway.metrics import Metrics
from gateway.settings import GatewaySettings
from mesh.auth.principal import SYNTHETIC_ADMIN, Principal
from mesh.serving.errors import QuotaViolation, ResourceExhausted
from mesh.serving.grpc_errors import details_of
from mesh.settings.common import RedisSettings, load

log = logging.getLogger(__name__)

# Headers a browser script may read on a cross-origin answer (the CORS layer exposes them).
QUOTA_HEADERS = ("RateLimit-Policy", "RateLimit", "Retry-After")
_STATE = "rate_limit_quota"
PLACE_ORDER = "oms.order.v1.OrderService.PlaceOrder"


class RouteClass(enum.StrEnum):
    READS = "reads"
    WRITES = "writes"
    PLACEMENT = "placement"
    STREAMS = "streams"


def route_class(binding: Binding) -> RouteClass:
    if binding.method.server_streaming:
        return RouteClass.STREAMS
    if binding.method.descriptor.full_name == PLACE_ORDER:
        return RouteClass.PLACEMENT
    if binding.http_method in ("GET", "HEAD"):
        return RouteClass.READS
    return RouteClass.WRITES


def caller_key(request: Request, principal: Principal) -> str:
    """Whose budget a call spends (rate limits, open streams): a digest of the token's subject
    (keys stay short and do not spell out customer ids), else the client address (anonymous
    callers, and everyone when auth is disabled and all are the same synthetic admin)."""
    if principal is SYNTHETIC_ADMIN or not principal.id:
        return "addr:" + (request.client.host if request.client else "unknown")
    return "sub:" + hashlib.sha256(principal.id.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Quota:
    """One class's limit and what the caller has left of it."""

    policy: RouteClass
    limit: int
    window_s: int
    remaining: int
    reset_s: int

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Policy": f'"{self.policy}";q={self.limit};w={self.window_s}',
            "RateLimit": f'"{self.policy}";r={self.remaining};t={self.reset_s}',
        }


class RateLimits:
    """Admits or refuses one call of a caller; ``shared`` None: this process counts alone."""

    def __init__(
        self,
        settings: GatewaySettings,
        metrics: Metrics,
        shared: Storage | None = None,
        *,
        close_shared: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.enabled = settings.rate_limits_enabled
        self._items: dict[RouteClass, RateLimitItem] = {
            RouteClass.READS: parse(settings.rate_limit_reads),
            RouteClass.WRITES: parse(settings.rate_limit_writes),
            RouteClass.PLACEMENT: parse(settings.rate_limit_placement),
            RouteClass.STREAMS: parse(settings.rate_limit_streams),
        }
        self._metrics = metrics
        self._local = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._shared = SlidingWindowCounterRateLimiter(shared) if shared is not None else None
        self._close_shared = close_shared
        self._timeout_s = settings.rate_limit_redis_timeout_s
        self._breaker_s = settings.rate_limit_breaker_s
        self._skip_shared_until = 0.0

    @classmethod
    def from_settings(cls, settings: GatewaySettings, metrics: Metrics) -> RateLimits:
        """Builds the Redis client without connecting (redis-py connects on first use)."""
        if not settings.rate_limits_enabled or settings.rate_limit_storage == "memory":
            return cls(settings, metrics)
        url = settings.rate_limit_redis_url or load(RedisSettings).url
        timeout = settings.rate_limit_redis_timeout_s
        # No retries: a retry would multiply what a dead Redis costs each call.
        pool = ConnectionPool.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )
        storage = RedisStorage(
            "async+" + url,
            wrap_exceptions=True,
            implementation="redispy",  # redis.asyncio, the client the project already uses
            key_prefix=settings.rate_limit_key_prefix,
            # Passed on to redis.asyncio.Redis as they are (limits types its options as scalars).
            connection_pool=pool,  # type: ignore[arg-type]
            retry=Retry(NoBackoff(), 0),  # type: ignore[arg-type]
        )
        return cls(settings, metrics, storage, close_shared=pool.aclose)

    async def admit(self, request: Request, binding: Binding, principal: Principal) -> None:
        """Spends one unit of the caller's budget for the route's class, or raises a 429.

        The quota is kept on the request, for ``add_quota_headers`` to put on whatever answer follows.
        """
        if not self.enabled:
            return
        policy = route_class(binding)
        item = self._items[policy]
        allowed, remaining, reset_at = await self._decide(item, f"{policy}/{caller_key(request, principal)}")
        reset_s = max(0, math.ceil(reset_at - time.time()))
        quota = Quota(policy, item.amount, item.get_expiry(), remaining, reset_s)
        setattr(request.state, _STATE, quota)
        if not allowed:
            self._metrics.rate_limited.labels(str(policy)).inc()
            raise _refusal(quota)

    async def close(self) -> None:
        if self._close_shared is not None:
            await self._close_shared()

    async def _decide(self, item: RateLimitItem, key: str) -> tuple[bool, int, float]:
        if self._shared is not None and time.monotonic() >= self._skip_shared_until:
            try:
                async with asyncio.timeout(self._timeout_s):
                    return await _hit(self._shared, item, key)
            except (StorageError, RedisError, OSError, TimeoutError) as exc:
                self._skip_shared_until = time.monotonic() + self._breaker_s
                self._metrics.rate_limit_storage_errors.inc()
                log.warning(
                    "rate limit storage unavailable; limiting locally",
                    extra={"error": repr(exc), "local_for_s": self._breaker_s},
                )
        return await _hit(self._local, item, key)


async def _hit(limiter: SlidingWindowCounterRateLimiter, item: RateLimitItem, key: str) -> tuple[bool, int, float]:
    allowed = await limiter.hit(item, key)
    stats = await limiter.get_window_stats(item, key)
    return allowed, stats.remaining, stats.reset_time


def _refusal(quota: Quota) -> HttpError:
    retry_after_s = max(1, quota.reset_s)
    error = ResourceExhausted(
        f"rate limit exceeded: at most {quota.limit} {quota.policy} requests per {quota.window_s} s; "
        f"retry in {retry_after_s} s",
        violations=[QuotaViolation("caller", f"at most {quota.limit} {quota.policy} requests per {quota.window_s} s")],
        retry_after_s=retry_after_s,
        reason="RATE_LIMITED",
        metadata={"policy": str(quota.policy)},
    )
    # 429; the RetryInfo detail becomes Retry-After (gateway.errors.status_response).
    return HttpError(error.code, error.message, details_of(error))


def add_quota_headers(request: Request, response: Response) -> None:
    """Puts the caller's remaining quota on the answer, if the call got as far as the limiter."""
    quota: Quota | None = getattr(request.state, _STATE, None)
    if quota is not None:
        response.headers.update(quota.headers())
