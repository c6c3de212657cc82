"""Names of what tests create on the shared servers, and their removal — also after a killed run.

The PostgreSQL, Redis and Kafka servers are shared by every test session on the machine (other
checkouts, concurrent runs), so a test that forgets its Kafka topics fills the broker until it
dies ("Too many open files" at ~20,000 partition directories). Every topic, consumer group and
database a test creates therefore carries a *marker*

    t-<created, unix seconds>-<pid of the creating pytest process>-<6 hex digits>

(underscores instead of dashes in database names). The fixtures that create things remove
everything carrying their marker in a finalizer; what a killed session (SIGKILL, OOM, a closed
terminal) could not remove, the next session sweeps at start (:func:`sweep_stale`). A name is
stale only when its owner is provably gone: that pid is no longer running, or it is running but
started after the name was made (the pid was reused). Another session's live names are never
touched, whatever their age; names without a marker (other projects, older checkouts) neither.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]

# A marker at the start of a topic or database name, anywhere in a consumer group id (groups are
# "<service>-svc<suffix>" with the marker in the suffix).
_MARKER = r"t([-_])(\d{10})\1(\d{1,10})\1([0-9a-f]{6})"
_AT_START = re.compile(_MARKER + r"(?=[._]|$)")
_ANYWHERE = re.compile(r"(?:^|[^0-9A-Za-z])" + _MARKER + r"(?![0-9A-Za-z])")
# A dead owner's names are swept after this long only, so a clock step or a name made a moment
# before its process was listed never counts as stale.
MIN_AGE_S = 60.0
# The owner check reads /proc; a session in another pid namespace would look dead, so its names
# are judged by age alone, and no test session runs this long.
NAMESPACE_FALLBACK_AGE_S = 24 * 3600.0
KAFKA_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Marker:
    created: int
    pid: int
    tag: str

    @classmethod
    def new(cls) -> Marker:
        return cls(int(time.time()), os.getpid(), secrets.token_hex(3))

    @property
    def text(self) -> str:
        """The form in topic names and consumer group ids."""
        return f"t-{self.created}-{self.pid}-{self.tag}"

    @property
    def topic_prefix(self) -> str:
        return f"{self.text}."

    def database(self, service: str) -> str:
        return f"t_{self.created}_{self.pid}_{self.tag}_{service.removesuffix('_svc')}"

    def group_suffix(self, extra: str = "") -> str:
        """A consumer group suffix (``OMS_<SVC>_CONSUMER_GROUP_SUFFIX``) carrying the marker."""
        return f"-{self.text}" + (f"-{extra}" if extra else "")


def marker_at_start(name: str) -> Marker | None:
    """The marker a topic or database name starts with (None for names tests did not make)."""
    found = _AT_START.match(name)
    return Marker(int(found[2]), int(found[3]), found[4]) if found else None


def marker_in(group_id: str) -> Marker | None:
    found = _ANYWHERE.search(group_id)
    return Marker(int(found[2]), int(found[3]), found[4]) if found else None


def of_topic_prefix(prefix: str) -> Marker:
    marker = marker_at_start(prefix)
    if marker is None:
        raise ValueError(f"topic prefix {prefix!r} carries no test marker")
    return marker


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise RuntimeError("no btime in /proc/stat")


def owner_alive(marker: Marker) -> bool:
    """The process that made ``marker`` still runs (same pid, started no later than the name)."""
    try:
        stat = Path(f"/proc/{marker.pid}/stat").read_text()
    except OSError:
        return False
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return False
    started = _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return started <= marker.created + 2  # btime is whole seconds


def is_stale(marker: Marker, *, now: float | None = None, min_age_s: float = MIN_AGE_S) -> bool:
    age = (now if now is not None else time.time()) - marker.created
    if age > NAMESPACE_FALLBACK_AGE_S:
        return True
    return age > min_age_s and not owner_alive(marker)


# --- Kafka -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KafkaNames:
    topics: list[str]
    groups: list[str]


def _admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap})


def _kafka_names(admin: AdminClient, wanted: Callable[[Marker], bool]) -> KafkaNames:
    topics = [
        name
        for name in admin.list_topics(timeout=KAFKA_TIMEOUT_S).topics
        if (m := marker_at_start(name)) is not None and wanted(m)
    ]
    listed = admin.list_consumer_groups(request_timeout=KAFKA_TIMEOUT_S).result(timeout=KAFKA_TIMEOUT_S)
    groups = [g.group_id for g in listed.valid if (m := marker_in(g.group_id)) is not None and wanted(m)]
    return KafkaNames(sorted(topics), sorted(groups))


# The services' consumer session timeout (mesh/messaging/kafka/_consumer.py).
SESSION_TIMEOUT_S = 10.0


def _delete_kafka(admin: AdminClient, names: KafkaNames) -> KafkaNames:
    """Deletes ``names``; returns what is gone (a group with live members stays, and is retried
    by the next sweep)."""
    deleted_topics: list[str] = []
    deleted_groups: list[str] = []
    if names.topics:
        for topic, future in admin.delete_topics(names.topics, operation_timeout=KAFKA_TIMEOUT_S).items():
            try:
                future.result(timeout=KAFKA_TIMEOUT_S)
                deleted_topics.append(topic)
            except KafkaException as exc:
                if exc.args[0].name() == "UNKNOWN_TOPIC_OR_PART":  # a concurrent sweep was faster
                    deleted_topics.append(topic)
    if names.groups:
        for group, future in admin.delete_consumer_groups(names.groups, request_timeout=KAFKA_TIMEOUT_S).items():
            try:
                future.result(timeout=KAFKA_TIMEOUT_S)
                deleted_groups.append(group)
            except KafkaException as exc:
                if exc.args[0].name() == "GROUP_ID_NOT_FOUND":
                    deleted_groups.append(group)
    return KafkaNames(deleted_topics, deleted_groups)


def _remove_kafka_blocking(
    bootstrap: str, wanted: Callable[[Marker], bool], *, wait_for_members_s: float = 0.0
) -> KafkaNames:
    admin = _admin(bootstrap)
    names = _kafka_names(admin, wanted)
    removed = _delete_kafka(admin, names)
    # A group whose member was SIGKILLed keeps that member until its session times out (10 s in
    # the services): the broker refuses to delete it until then, so ask again until it lets go.
    deadline = time.monotonic() + wait_for_members_s
    left = [g for g in names.groups if g not in removed.groups]
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        again = _delete_kafka(admin, KafkaNames([], left))
        removed = KafkaNames(removed.topics, removed.groups + again.groups)
        left = [g for g in left if g not in again.groups]
    return removed


async def remove_kafka(bootstrap: str, marker: Marker) -> KafkaNames:
    """Deletes every topic and consumer group carrying ``marker`` (waiting out a killed member)."""
    return await asyncio.to_thread(
        _remove_kafka_blocking, bootstrap, lambda m: m == marker, wait_for_members_s=SESSION_TIMEOUT_S + 5
    )


async def kafka_names(bootstrap: str, wanted: Callable[[Marker], bool]) -> KafkaNames:
    return await asyncio.to_thread(_kafka_names, _admin(bootstrap), wanted)


# --- PostgreSQL ------------------------------------------------------------------------------


async def database_names(admin_url: str, wanted: Callable[[Marker], bool]) -> list[str]:
    conn = await asyncpg.connect(admin_url)
    try:
        rows = await conn.fetch("SELECT datname FROM pg_database")
    finally:
        await conn.close()
    return sorted(r["datname"] for r in rows if (m := marker_at_start(r["datname"])) is not None and wanted(m))


async def drop_databases(admin_url: str, names: list[str]) -> None:
    if not names:
        return
    conn = await asyncpg.connect(admin_url)
    try:
        for name in names:
            # FORCE: a killed run's service processes may still hold connections.
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


# --- whole sessions --------------------------------------------------------------------------


@dataclass(frozen=True)
class Removed:
    topics: list[str]
    groups: list[str]
    databases: list[str]

    def __bool__(self) -> bool:
        return bool(self.topics or self.groups or self.databases)

    def describe(self) -> str:
        return f"{len(self.topics)} topics, {len(self.groups)} consumer groups, {len(self.databases)} databases"


async def remove_where(pg_admin_url: str, kafka_bootstrap: str, wanted: Callable[[Marker], bool]) -> Removed:
    kafka = await asyncio.to_thread(_remove_kafka_blocking, kafka_bootstrap, wanted)
    databases = await database_names(pg_admin_url, wanted)
    await drop_databases(pg_admin_url, databases)
    return Removed(kafka.topics, kafka.groups, databases)


async def sweep_stale(pg_admin_url: str, kafka_bootstrap: str) -> Removed:
    """Removes what killed test sessions left behind (see the module's docstring for "stale")."""
    now = time.time()
    return await remove_where(pg_admin_url, kafka_bootstrap, lambda m: is_stale(m, now=now))


async def remove_own(pg_admin_url: str, kafka_bootstrap: str, pid: int | None = None) -> Removed:
    """Removes everything this process (or ``pid``) made: the safety net at the end of a session."""
    owner = pid if pid is not None else os.getpid()
    return await remove_where(pg_admin_url, kafka_bootstrap, lambda m: m.pid == owner)
