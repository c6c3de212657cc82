"""Fixtures every suite shares. Integration and e2e tests use the real servers started by
`scripts/infra up` (``make test`` starts them); each test gets its own databases and topics."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from mesh.settings.common import KafkaSettings
from testkit.infra import Infra, create_database, drop_database, fresh_kafka
from testkit.processes import free_port
from testkit.redis_server import PrivateRedis

# The tests sign tokens with the public development secret, which only a development
# environment accepts (mesh.auth.load_auth); processes the tests start inherit it.
os.environ.setdefault("OMS_ENV", "development")


@pytest.fixture(scope="session")
def infra() -> Infra:
    return Infra.from_environment()


@pytest.fixture
async def database_factory(infra: Infra) -> AsyncIterator[Callable[[str], Awaitable[str]]]:
    """``await database_factory("order_svc")`` → URL of a fresh, migrated database."""
    created: list[str] = []

    async def make(service: str) -> str:
        url = await create_database(infra, service)
        created.append(url)
        return url

    yield make
    for url in created:
        await drop_database(infra, url)


@pytest.fixture
async def kafka(infra: Infra) -> KafkaSettings:
    """Kafka settings with a unique topic prefix, so tests never see each other's events."""
    return await fresh_kafka(infra)


@pytest.fixture
async def private_redis() -> AsyncIterator[PrivateRedis]:
    """A redis-server of the test's own, which the test may stop and start again."""
    server = PrivateRedis(free_port())
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
