"""A three-node Kafka cluster of the test's own (``scripts/infra cluster``), its nodes killable.

Its own directory and free ports, so it never meets the developer's single broker or another
test session; ``down()`` stops every node and the directory goes with the test's tmp_path.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]

from testkit.processes import ROOT, free_port


@dataclass
class KafkaCluster:
    directory: Path
    ports: list[int] = field(default_factory=lambda: [free_port() for _ in range(3)])
    controller_ports: list[int] = field(default_factory=lambda: [free_port() for _ in range(3)])
    _admin: AdminClient | None = field(default=None, repr=False)

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def _env(self) -> dict[str, str]:
        return os.environ | {
            "OMS_KAFKA_CLUSTER_DIR": str(self.directory),
            "OMS_KAFKA_CLUSTER_PORTS": ",".join(map(str, self.ports)),
            "OMS_KAFKA_CLUSTER_CONTROLLER_PORTS": ",".join(map(str, self.controller_ports)),
        }

    async def _infra(self, *args: str, timeout_s: float = 180) -> str:
        process = await asyncio.create_subprocess_exec(
            str(ROOT / "scripts" / "infra"),
            "cluster",
            *args,
            env=self._env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(process.communicate(), timeout=timeout_s)
        text = out.decode(errors="replace")
        assert process.returncode == 0, f"scripts/infra cluster {' '.join(args)} failed:\n{text}"
        return text

    async def up(self) -> float:
        """Starts every node that is not running; the seconds it took until all three answered."""
        started = time.monotonic()
        await self._infra("up")
        return time.monotonic() - started

    async def down(self) -> None:
        await self._infra("down", timeout_s=120)

    async def kill(self, node: int) -> None:
        await self._infra("kill", str(node))

    def admin(self) -> AdminClient:
        """One admin client for the cluster's whole life: librdkafka aborts the process when an
        admin client is destroyed with requests still pending, as happens while a node is down."""
        if self._admin is None:
            self._admin = AdminClient({"bootstrap.servers": self.bootstrap})
        return self._admin

    def leader_of(self, topic: str, partition: int = 0) -> int:
        """The node id leading ``topic``'s partition (node ids are 1, 2, 3)."""
        metadata = self.admin().list_topics(topic, timeout=10)
        return int(metadata.topics[topic].partitions[partition].leader)

    async def group_settled(self, group: str, members: int) -> bool:
        """The consumer group is Stable with ``members`` members (a rebalance is over).

        Asked from a child process: librdkafka's DescribeConsumerGroups can abort the whole
        process on an assertion while a broker is down (confluentinc/librdkafka#4605), and the
        test must outlive the broker it kills.
        """
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _DESCRIBE_GROUP,
            self.bootstrap,
            group,
            str(members),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            return await asyncio.wait_for(process.wait(), timeout=20) == 0
        except TimeoutError:
            process.kill()
            await process.wait()
            return False


# Exit 0 when the group is Stable with the number of members asked, 1 otherwise.
_DESCRIBE_GROUP = """
import sys
from confluent_kafka.admin import AdminClient
bootstrap, group, members = sys.argv[1], sys.argv[2], int(sys.argv[3])
admin = AdminClient({"bootstrap.servers": bootstrap})
(future,) = admin.describe_consumer_groups([group], request_timeout=5).values()
try:
    description = future.result(timeout=10)
except Exception:
    sys.exit(1)
stable = str(description.state).endswith("STABLE") and len(description.members) == members
sys.exit(0 if stable else 1)
"""
