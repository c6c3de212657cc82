"""Fixtures of the inventory integration tests: the composed service on a fresh database,
Kafka topics of its own, a unique cache key prefix, and an in-process gRPC server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import grpc
import pytest

from inventory_svc.settings import Config, InventorySettings
from mesh.auth.settings import AuthSettings
from mesh.serving.server import serve
from mesh.settings.common import KafkaSettings, RedisSettings
from oms.inventory.v1 import inventory_pb2_grpc
from testkit.infra import Infra, group_suffix
from tests.integration.inventory.helpers import InventoryApp

if TYPE_CHECKING:
    from oms.inventory.v1.inventory_pb2_grpc import InventoryServiceAsyncStub

AppFactory = Callable[..., Awaitable[InventoryApp]]


@pytest.fixture
async def make_inventory(
    database_factory: Callable[[str], Awaitable[str]], kafka: KafkaSettings, infra: Infra
) -> AsyncIterator[AppFactory]:
    """``await make_inventory(redis_url=..., breaker_s=..., auth=..., lock_timeout_s=...)`` → an InventoryApp.

    Authentication is off unless asked for: these tests are about inventory, not tokens."""
    apps: list[InventoryApp] = []
    url = await database_factory("inventory_svc")
    run_id = uuid.uuid4().hex[:10]

    async def make(
        *, redis_url: str | None = None, breaker_s: float = 1.0, auth: bool = False, lock_timeout_s: float = 2.0
    ) -> InventoryApp:
        settings = InventorySettings(
            database_url=url,
            grpc_port=0,
            metrics_port=0,
            db_pool_size=20,
            migrate_on_start=False,
            consumer_group_suffix=group_suffix(kafka, run_id),
            cache_key_prefix=f"test:{run_id}:",
            cache_breaker_s=breaker_s,
            db_lock_timeout_s=lock_timeout_s,
        )
        redis = RedisSettings(url=redis_url or infra.redis_url)
        app = InventoryApp.build(Config(settings, kafka, redis, AuthSettings(enabled=auth)))
        apps.append(app)
        return app

    yield make
    for app in apps:
        await app.close()


@pytest.fixture
async def inventory(make_inventory: AppFactory) -> InventoryApp:
    return await make_inventory()


async def start_server(app: InventoryApp) -> tuple[asyncio.Event, asyncio.Task[None], int]:
    """Serves the app's gRPC API in-process (no workers); returns stop event, task and port."""
    process = app.process()
    process.workers = []
    process.on_close = []
    stop = asyncio.Event()
    task = asyncio.create_task(serve(process, stop, handle_signals=False))
    started = asyncio.create_task(process.started.wait())
    await asyncio.wait([task, started], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    return stop, task, process.bound_port


@pytest.fixture
async def stub_for() -> AsyncIterator[Callable[[InventoryApp], Awaitable[InventoryServiceAsyncStub]]]:
    running: list[tuple[asyncio.Event, asyncio.Task[None], grpc.aio.Channel]] = []

    async def make(app: InventoryApp) -> InventoryServiceAsyncStub:
        stop, task, port = await start_server(app)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        running.append((stop, task, channel))
        return inventory_pb2_grpc.InventoryServiceStub(channel)  # the async stub at run time

    yield make
    for stop, task, channel in running:
        await channel.close()
        stop.set()
        await task


@pytest.fixture
async def stub(
    inventory: InventoryApp, stub_for: Callable[[InventoryApp], Awaitable[InventoryServiceAsyncStub]]
) -> InventoryServiceAsyncStub:
    return await stub_for(inventory)
