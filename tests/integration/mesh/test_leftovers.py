"""Tests leave nothing on the shared servers: a failing test's topics, consumer groups and
databases are removed by its fixtures, and what a killed session left is swept by the next.

One tiny pytest session of its own, in a subprocess on the suite's real fixtures, has one test
that fails and one that kills the session; both cases are checked on what they left."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from testkit import leftovers
from testkit.infra import ROOT, Infra

pytestmark = pytest.mark.integration

# Each test makes what a test makes (a database, the topics, a consumer group with an offset),
# writes the names down, then fails, or kills its whole session.
INNER_TEST = """
import json, os, signal
from confluent_kafka import Consumer, TopicPartition
from testkit.infra import group_id

async def test_fails(database_factory, kafka):
    await make_things(database_factory, kafka, "fail")
    raise AssertionError("failing on purpose")

async def test_is_killed(database_factory, kafka):
    await make_things(database_factory, kafka, "kill")
    os.kill(os.getpid(), signal.SIGKILL)

async def make_things(database_factory, kafka, mode):
    url = await database_factory("notify_svc")
    topic = kafka.topic_prefix + "orders"
    group = group_id(kafka, "leftover-proof")
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": group})
    consumer.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
    consumer.close()
    names = {"database": url.rsplit("/", 1)[1], "prefix": kafka.topic_prefix, "group": group, "pid": os.getpid()}
    with open(os.path.join(os.environ["LEFTOVER_NAMES"], mode + ".json"), "w") as out:
        json.dump(names, out)
"""

Names = dict[str, object]


@pytest.fixture(scope="module")
def inner_session(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Names, Names]:
    """The inner session's exit status and the names its failing and its killed test made."""
    return asyncio.run(run_inner_session(tmp_path_factory.mktemp("leftovers")))


async def run_inner_session(tmp_path: Path) -> tuple[int, Names, Names]:
    test_file = tmp_path / "test_inner.py"
    test_file.write_text(INNER_TEST)
    env = os.environ | {
        "LEFTOVER_NAMES": str(tmp_path),
        "OMS_TEST_LEFTOVER_NET": "0",  # prove the per-test finalizers, not the session's safety net
        "PYTHONPATH": str(ROOT),
    }
    # -p tests.conftest: the suite's own fixtures; -c: its pytest settings (asyncio mode, ...).
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-c", str(ROOT / "pyproject.toml")),
        *("--rootdir", str(tmp_path), str(test_file)),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    written = [tmp_path / f"{mode}.json" for mode in ("fail", "kill")]
    assert all(f.exists() for f in written), f"the inner tests did not get to make things:\n{output.decode()[-3000:]}"
    failed, killed = (json.loads(f.read_text()) for f in written)
    return int(process.returncode or 0), failed, killed


async def present(infra: Infra, names: Names) -> dict[str, list[str]]:
    """Which of the inner session's names exist on the servers now."""
    marker = leftovers.of_topic_prefix(str(names["prefix"]))
    kafka = await leftovers.kafka_names(infra.kafka_bootstrap, lambda m: m == marker)
    databases = await leftovers.database_names(
        infra.pg_admin_url, lambda m: m.database("notify_svc") == names["database"]
    )
    return {"topics": kafka.topics, "groups": kafka.groups, "databases": databases}


async def test_a_failing_test_removes_its_topics_groups_and_databases(
    infra: Infra, inner_session: tuple[int, Names, Names]
) -> None:
    _, failed, _ = inner_session
    assert await present(infra, failed) == {"topics": [], "groups": [], "databases": []}


async def test_what_a_killed_session_left_is_swept_by_the_next(
    infra: Infra, inner_session: tuple[int, Names, Names]
) -> None:
    code, _, names = inner_session
    assert code == -9
    left = await present(infra, names)
    prefix = str(names["prefix"])
    assert f"{prefix}orders" in left["topics"] and f"{prefix}orders.dlq" in left["topics"], left
    assert left["groups"] == [names["group"]] and left["databases"] == [names["database"]], left

    # A live session's names next to them, which the sweep must keep.
    alive = leftovers.Marker.new()
    alive_database = alive.database("notify_svc")
    conn = await asyncpg.connect(infra.pg_admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{alive_database}"')
    finally:
        await conn.close()
    try:
        # The dead owner's names are stale past the minimum age (here: pretend it has passed).
        now = time.time() + leftovers.MIN_AGE_S + 1
        swept = await leftovers.remove_where(
            infra.pg_admin_url,
            infra.kafka_bootstrap,
            lambda m: m.pid in (names["pid"], alive.pid) and leftovers.is_stale(m, now=now),
        )
        assert swept.databases == [names["database"]] and swept.groups == [names["group"]], swept
        assert await present(infra, names) == {"topics": [], "groups": [], "databases": []}
        assert alive_database in await leftovers.database_names(infra.pg_admin_url, lambda m: m == alive)
    finally:
        await leftovers.drop_databases(infra.pg_admin_url, [alive_database])
