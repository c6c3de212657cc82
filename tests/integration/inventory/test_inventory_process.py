"""``python -m inventory_svc`` as a real process: start-up failures, serving, draining stop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mesh.settings.common import KafkaSettings
from oms.inventory.v1 import inventory_pb2 as pb
from oms.inventory.v1 import inventory_pb2_grpc
from testkit.infra import Infra, group_suffix
from testkit.wait import eventually

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(**variables: str) -> dict[str, str]:
    # A developer's own OMS_* variables must not leak into the process under test.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    # The public development JWT secret is refused anywhere else (mesh.auth.load_auth).
    env["OMS_ENV"] = "development"
    env.update(variables)
    return env


async def _run_to_exit(env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "inventory_svc", cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, stderr.decode()


async def test_bad_setting_exits_2_naming_the_variable() -> None:
    code, stderr = await _run_to_exit(_env(OMS_INVENTORY_GRPC_PORT="not-a-port"))
    assert code == 2
    assert "OMS_INVENTORY_GRPC_PORT" in stderr.strip().splitlines()[-1]


async def test_unreachable_database_exits_2_with_one_line() -> None:
    url = f"postgresql+asyncpg://oms:oms@127.0.0.1:{_free_port()}/nowhere"
    code, stderr = await _run_to_exit(_env(OMS_INVENTORY_DATABASE_URL=url))
    assert code == 2
    last = stderr.strip().splitlines()[-1]
    assert "cannot reach the database" in last and "OMS_INVENTORY_DATABASE_URL" in last and ":oms@" not in last


async def test_serves_migrated_and_stops_cleanly(
    database_factory: Callable[[str], Awaitable[str]], kafka: KafkaSettings, infra: Infra
) -> None:
    port = _free_port()
    env = _env(
        OMS_INVENTORY_DATABASE_URL=await database_factory("inventory_svc"),
        OMS_INVENTORY_GRPC_PORT=str(port),
        OMS_INVENTORY_METRICS_PORT="0",
        OMS_INVENTORY_CACHE_KEY_PREFIX=f"test:{port}:",
        OMS_INVENTORY_CONSUMER_GROUP_SUFFIX=group_suffix(kafka, str(port)),
        OMS_KAFKA_BOOTSTRAP=kafka.bootstrap,
        OMS_KAFKA_TOPIC_PREFIX=kafka.topic_prefix,
        OMS_KAFKA_PARTITIONS=str(kafka.partitions),
        OMS_REDIS_URL=infra.redis_url,
        OMS_AUTH_ENABLED="false",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "inventory_svc", cwd=ROOT, env=env, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)

            async def serving() -> bool:
                try:
                    answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                except grpc.aio.AioRpcError:
                    return False
                return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)

            await eventually(serving, timeout_s=60, interval_s=0.2, what="inventory_svc serving")
            stub = inventory_pb2_grpc.InventoryServiceStub(channel)
            answer = await stub.CheckStock(pb.CheckStockRequest(product_ids=["nothing-here"]))
            assert list(answer.unknown_product_ids) == ["nothing-here"]
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
