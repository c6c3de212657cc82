"""Records when each order changes, straight from PostgreSQL's NOTIFY, in a process of its own.

``python -m bench.saga_listener <dsn> <out>``: LISTENs on ``oms_order_changed`` (the order
service's own trigger sends the order id when an UPDATE of ``orders`` commits; inserts send
nothing), prints ``READY`` once listening, and appends ``<time.monotonic()> <order_id>`` lines
to ``out`` until SIGTERM. CLOCK_MONOTONIC is machine-wide, so the bench client can subtract its
own monotonic send times. Being its own process, its timestamps do not queue behind the load
the bench client generates.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time

import asyncpg

CHANNEL = "oms_order_changed"


async def listen(dsn: str, out_path: str) -> None:
    lines: list[str] = []

    def on_notify(_conn: object, _pid: int, _channel: str, payload: str) -> None:
        lines.append(f"{time.monotonic():.6f} {payload}\n")

    conn = await asyncpg.connect(dsn)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await conn.add_listener(CHANNEL, on_notify)
        sys.stdout.write("READY\n")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await conn.close()
        await asyncio.to_thread(_write, out_path, lines)


def _write(path: str, lines: list[str]) -> None:
    with open(path, "w") as out:
        out.writelines(lines)


if __name__ == "__main__":
    asyncio.run(listen(sys.argv[1], sys.argv[2]))
