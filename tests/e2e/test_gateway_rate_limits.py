"""Rate limits on the real gateway processes: one budget across replicas, and Redis away.

The mesh is started once; each test starts gateway processes of its own with tight limits
(and a key prefix of its own) in front of it. Hour-long windows: exact counts are asserted,
and a sliding window's count shifts when a window boundary passes.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from testkit.infra import Infra
from testkit.processes import GatewayProcess, free_port, new_mesh
from testkit.redis_server import PrivateRedis
from testkit.wait import eventually
from tests.e2e.gateway_support import Stack, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    mesh = await new_mesh(infra, Path(tmp_path_factory.mktemp("rate-limits")))
    try:
        async with running_stack(mesh) as running:
            yield running
    finally:
        await mesh.stop()


@contextlib.asynccontextmanager
async def gateways(stack: Stack, count: int, env: dict[str, str]) -> AsyncIterator[list[httpx.AsyncClient]]:
    """``count`` more gateway processes in front of the stack's services, with ``env`` on top."""
    started: list[GatewayProcess] = []
    async with contextlib.AsyncExitStack() as stack_of_clients:
        try:
            for index in range(count):
                port = free_port()
                process_env = stack.gateway.env | env | {"OMS_GATEWAY_PORT": str(port)}
                gateway = GatewayProcess(
                    port, process_env, stack.mesh.workdir / f"gateway-rl-{uuid.uuid4().hex[:6]}-{index}.log"
                )
                started.append(gateway)
                await gateway.start()
            clients = [
                await stack_of_clients.enter_async_context(httpx.AsyncClient(base_url=g.base_url, timeout=10))
                for g in started
            ]
            yield clients
        finally:
            for gateway in started:
                await gateway.stop()


def remaining(reply: httpx.Response) -> int:
    match = re.fullmatch(r'"reads";r=(\d+);t=(\d+)', reply.headers.get("RateLimit", ""))
    assert match, reply.headers
    return int(match.group(1))


async def test_two_gateway_processes_share_one_budget(stack: Stack) -> None:
    env = {
        "OMS_GATEWAY_RATE_LIMIT_READS": "4/hour",
        "OMS_GATEWAY_RATE_LIMIT_KEY_PREFIX": f"test:rl:{uuid.uuid4().hex}",
        # Generous: a slow Redis on a busy test machine must not send a decision to the local limit.
        "OMS_GATEWAY_RATE_LIMIT_REDIS_TIMEOUT_S": "2",
    }
    headers = stack.headers(f"c-shared-{uuid.uuid4().hex[:8]}", "customer")
    async with gateways(stack, 2, env) as (first, second):
        answers = [await (first if i % 2 == 0 else second).get("/products", headers=headers) for i in range(4)]
        assert [a.status_code for a in answers] == [200] * 4
        assert [remaining(a) for a in answers] == [3, 2, 1, 0]
        for gateway in (first, second):
            refused = await gateway.get("/products", headers=headers)
            assert refused.status_code == 429, refused.text
            assert refused.headers["RateLimit-Policy"] == '"reads";q=4;w=3600'
            assert int(refused.headers["Retry-After"]) >= 1
        metrics = (await first.get("/metrics")).text
        assert 'oms_gateway_rate_limited_total{route_class="reads"} 1.0' in metrics


async def test_with_redis_away_the_gateway_serves_under_a_local_limit_and_recovers(stack: Stack) -> None:
    # A redis-server of this test's own (on the module's event loop, like the stack), stopped mid-test.
    private_redis = PrivateRedis(free_port())
    await private_redis.start()
    prefix = f"test:rl:{uuid.uuid4().hex}"
    env = {
        "OMS_GATEWAY_RATE_LIMIT_READS": "3/hour",
        "OMS_GATEWAY_RATE_LIMIT_REDIS_URL": private_redis.url,
        "OMS_GATEWAY_RATE_LIMIT_KEY_PREFIX": prefix,
        "OMS_GATEWAY_RATE_LIMIT_BREAKER_S": "0.5",
    }

    async def shared_keys() -> list[bytes]:
        # A client per look: one connected before the restart would fail its first command.
        redis = Redis.from_url(private_redis.url)
        try:
            return [key async for key in redis.scan_iter(match=prefix + "*")]
        finally:
            await redis.aclose()

    def caller() -> dict[str, str]:
        return stack.headers(f"c-redis-{uuid.uuid4().hex[:8]}", "customer")

    try:
        async with gateways(stack, 1, env) as (gateway,):
            assert (await gateway.get("/products", headers=caller())).status_code == 200
            assert await shared_keys(), "the count lives in Redis while it is up"

            await private_redis.stop()
            away = caller()
            statuses = [(await gateway.get("/products", headers=away)).status_code for _ in range(4)]
            assert statuses == [200, 200, 200, 429], "served, under the local limit"
            metrics = (await gateway.get("/metrics")).text
            errors = re.search(r"^oms_gateway_rate_limit_storage_errors_total (\S+)$", metrics, re.MULTILINE)
            assert errors and float(errors.group(1)) >= 1

            await private_redis.start()  # empty: the counts of before are gone, as after a restart

            async def counted_in_redis_again() -> bool:
                # A new caller each time: a probe must not run into the limit itself.
                reply = await gateway.get("/products", headers=caller())
                assert reply.status_code == 200, reply.text
                return bool(await shared_keys())

            await eventually(counted_in_redis_again, timeout_s=10, interval_s=0.2, what="counting in Redis again")
    finally:
        await private_redis.stop()
