"""Where the real servers are (from `scripts/infra env`), and per-test isolation on them."""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from mesh.messaging.kafka import ensure_topics
from mesh.settings.common import KafkaSettings
from mesh.storage.migrate import upgrade

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
    """A new, migrated database for one service; returns its SQLAlchemy URL."""
    name = f"t_{service.removesuffix('_svc')}_{uuid.uuid4().hex[:10]}"
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
    """Kafka settings with a topic prefix of their own, topics created."""
    settings = KafkaSettings(bootstrap=infra.kafka_bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}.", partitions=3)
    await ensure_topics(settings, ALL_TOPICS)
    return settings
