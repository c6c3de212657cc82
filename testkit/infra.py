"""Where the real servers are (from `scripts/infra env`), and per-test isolation on them."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from mesh.messaging.kafka import ensure_topics
from mesh.settings.common import KafkaSettings
from mesh.storage.migrate import upgrade
from testkit.leftovers import KafkaNames, Marker, of_topic_prefix, remove_kafka

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Infra:
    pg_admin_url: str
    kafka_bootstrap: str
    redis_url: str

    @classmethod
    def from_environment(cls) -> Infra:
        env = dict(os.environ)
        if "OMS_PG_ADMIN_URL" not in env:
            env.update(_infra_env())
        return cls(
            pg_admin_url=env["OMS_PG_ADMIN_URL"],
            kafka_bootstrap=env["OMS_KAFKA_BOOTSTRAP"],
            redis_url=env["OMS_REDIS_URL"],
        )

    def database_url(self, name: str) -> str:
        return (
            make_url(self.pg_admin_url)
            .set(drivername="postgresql+asyncpg", database=name)
            .render_as_string(hide_password=False)
        )


def _infra_env() -> dict[str, str]:
    out = subprocess.run([str(ROOT / "scripts" / "infra"), "env"], check=True, capture_output=True, text=True).stdout
    values = {}
    for line in out.splitlines():
        line = line.removeprefix("export ").strip()
        if "=" in line:
            name, value = line.split("=", 1)
            values[name] = value.strip("'\"")
    return values


async def create_database(infra: Infra, service: str) -> str:
    """A new, migrated database for one service; returns its SQLAlchemy URL. The caller drops it
    (:func:`drop_database`) in a finalizer; its name carries a marker (testkit.leftovers) so the
    next session removes it if this one is killed first."""
    name = Marker.new().database(service)
    conn = await asyncpg.connect(infra.pg_admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = infra.database_url(name)
    await upgrade(service, url)
    return url


async def drop_database(infra: Infra, url: str) -> None:
    name = make_url(url).database
    conn = await asyncpg.connect(infra.pg_admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


# Every topic of the mesh (each service declares its own; a test may start any of them).
ALL_TOPICS = ("orders", "inventory", "payments")


async def fresh_kafka(infra: Infra) -> KafkaSettings:
    """Kafka settings with a topic prefix of their own (a marker, testkit.leftovers), topics created.

    The caller removes them with :func:`remove_kafka_of` in a finalizer, after stopping whatever
    consumes them; consumer groups it names with :func:`group_suffix` go with them."""
    settings = KafkaSettings(bootstrap=infra.kafka_bootstrap, topic_prefix=Marker.new().topic_prefix, partitions=3)
    await ensure_topics(settings, ALL_TOPICS)
    return settings


def group_suffix(settings: KafkaSettings, extra: str = "") -> str:
    """A consumer group suffix under ``settings``' marker, so :func:`remove_kafka_of` deletes the group."""
    return of_topic_prefix(settings.topic_prefix).group_suffix(extra)


def group_id(settings: KafkaSettings, name: str) -> str:
    """A consumer group id of a test's own reader under ``settings``' marker."""
    return name + group_suffix(settings, os.urandom(4).hex())


async def remove_kafka_of(settings: KafkaSettings) -> KafkaNames:
    """Deletes the topics and consumer groups under ``settings``' marker (whoever created them:
    the test, or service processes it started with that prefix)."""
    return await remove_kafka(settings.bootstrap, of_topic_prefix(settings.topic_prefix))
