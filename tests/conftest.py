"""Fixtures every suite shares. Integration and e2e tests use the real servers started by
`scripts/infra up` (``make test`` starts them); each test gets its own databases and topics,
removed when it ends (also when it fails), and a session sweeps what killed ones left
(testkit.leftovers)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from mesh.settings.common import KafkaSettings
from testkit import leftovers
from testkit.infra import Infra, create_database, drop_database, fresh_kafka, remove_kafka_of
from testkit.processes import free_port
from testkit.redis_server import PrivateRedis

# The tests sign tokens with the public development secret, which only a development
# environment accepts (mesh.auth.load_auth); processes the tests start inherit it.
os.environ.setdefault("OMS_ENV", "development")


# Set to 0 by the tests that prove the per-test finalizers clean up on their own.
SAFETY_NET = os.environ.get("OMS_TEST_LEFTOVER_NET", "1") != "0"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Soak runs (minutes of load against a cluster that is killed piece by piece) are kept out
    of `make test`'s time budget: they run with OMS_TEST_SOAK=1 (`make test-soak`)."""
    if os.environ.get("OMS_TEST_SOAK") == "1":
        return
    skip = pytest.mark.skip(reason="a soak run: OMS_TEST_SOAK=1 (make test-soak) runs it")
    for item in items:
        if item.get_closest_marker("soak"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """The shared servers. First, what killed sessions left there is swept; last, whatever this
    session still left (a fixture without a finalizer: a bug) is removed and reported."""
    found = Infra.from_environment()
    swept = asyncio.run(leftovers.sweep_stale(found.pg_admin_url, found.kafka_bootstrap))
    if swept:
        print(f"\nswept what killed test sessions left: {swept.describe()}")
    yield found
    if SAFETY_NET:
        left = asyncio.run(leftovers.remove_own(found.pg_admin_url, found.kafka_bootstrap))
        if left:
            warnings.warn(f"this session left {left.describe()} (removed now): {left}", stacklevel=1)


@pytest.fixture
async def database_factory(infra: Infra) -> AsyncIterator[Callable[[str], Awaitable[str]]]:
    """``await database_factory("order_svc")`` → URL of a fresh, migrated database."""
    created: list[str] = []

    async def make(service: str) -> str:
        url = await create_database(infra, service)
        created.append(url)
        return url

    try:
        yield make
    finally:
        for url in created:
            with contextlib.suppress(Exception):  # one failed drop must not keep the others
                await drop_database(infra, url)


@pytest.fixture
async def kafka(infra: Infra) -> AsyncIterator[KafkaSettings]:
    """Kafka settings with a unique topic prefix, so tests never see each other's events. The
    topics, and consumer groups named with ``testkit.infra.group_suffix``, are deleted after the
    test (after the fixtures that consume them, which depend on this one, have stopped)."""
    settings = await fresh_kafka(infra)
    try:
        yield settings
    finally:
        await remove_kafka_of(settings)


@pytest.fixture
async def private_redis() -> AsyncIterator[PrivateRedis]:
    """A redis-server of the test's own, which the test may stop and start again."""
    server = PrivateRedis(free_port())
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
