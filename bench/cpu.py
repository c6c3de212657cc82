"""CPU seconds used during a measurement, per process group, from /proc (Linux only).

On a 2-core machine shared by the services, PostgreSQL, Kafka, the load generator and
whatever else runs, "where did the CPU go" explains a throughput figure better than any
profile of one process. Groups: the processes we started (by pid), PostgreSQL backends,
Kafka, Redis, the load generator (ghz, counted as waited-for children of this process) and
everything else on the machine ("other").
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
OTHER = "other processes"


@dataclass
class Snapshot:
    by_group: dict[str, float] = field(default_factory=dict)
    machine_busy: float = 0.0
    machine_total: float = 0.0


def _stat(pid: str) -> tuple[str, float, float] | None:
    """(comm, own cpu s, waited-for children cpu s) of a process, None if it vanished."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
    own = (int(fields[11]) + int(fields[12])) / TICK
    children = (int(fields[13]) + int(fields[14])) / TICK
    return comm, own, children


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def snapshot(named: dict[int, str]) -> Snapshot:
    """CPU used so far by each group; ``named`` maps pids we started to their group names."""
    snap = Snapshot()
    me = str(os.getpid())
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        stat = _stat(pid)
        if stat is None:
            continue
        comm, own, children = stat
        if pid == me:
            group = "bench client"
            snap.by_group["load generator (ghz)"] = snap.by_group.get("load generator (ghz)", 0.0) + children
        elif int(pid) in named:
            group = named[int(pid)]
        elif comm == "postgres":
            group = "PostgreSQL"
        elif comm == "java" and "kafka.Kafka" in _cmdline(pid):
            group = "Kafka"
        elif comm.startswith("redis-server"):
            group = "Redis"
        else:
            group = OTHER
        snap.by_group[group] = snap.by_group.get(group, 0.0) + own
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    snap.machine_total = sum(values[:8]) / TICK
    snap.machine_busy = snap.machine_total - idle / TICK
    return snap


@dataclass(frozen=True)
class Usage:
    """CPU seconds per group between two snapshots, and the machine's busy share."""

    seconds: dict[str, float]
    machine_busy_share: float
    available_s: float = 0.0  # CPU-seconds the machine had in the window (cores x wall time)

    def as_dict(self) -> dict[str, object]:
        return {"seconds": self.seconds, "machine_busy_share": self.machine_busy_share, "available_s": self.available_s}


def usage(before: Snapshot, after: Snapshot) -> Usage:
    """Per group; "other processes" is the machine's busy time minus every known group, so
    short-lived processes that came and went in between are counted too."""
    groups = sorted((set(before.by_group) | set(after.by_group)) - {OTHER})
    seconds = {g: max(0.0, after.by_group.get(g, 0.0) - before.by_group.get(g, 0.0)) for g in groups}
    total = after.machine_total - before.machine_total
    busy_s = after.machine_busy - before.machine_busy
    seconds[OTHER] = max(0.0, busy_s - sum(seconds.values()))
    busy = busy_s / total if total > 0 else 0.0
    return Usage({g: s for g, s in sorted(seconds.items(), key=lambda kv: -kv[1]) if s > 0}, busy, total)
