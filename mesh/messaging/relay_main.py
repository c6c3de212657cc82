"""``python -m mesh.messaging.relay_main <service>``: an outbox relay as a process of its own.

Services run a relay in-process by default; operators (and the crash tests) may run relays
apart (``OMS_<SERVICE>_RUN_RELAY=false``), as many as they like: one leads at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys

from mesh.messaging.kafka import KafkaProducer
from mesh.messaging.relay import OutboxRelay
from mesh.settings.common import KafkaSettings, SettingsError, load
from mesh.storage.engine import asyncpg_dsn
from mesh.telemetry.logs import configure_logging

SERVICES = {"order": "order_svc", "inventory": "inventory_svc", "notify": "notify_svc", "payment": "payment_svc"}


async def run(service: str) -> None:
    variable = f"OMS_{service.upper()}_DATABASE_URL"
    url = os.environ.get(variable)
    if not url:
        raise SettingsError(f"bad setting: {variable} is not set")
    kafka = load(KafkaSettings)
    producer = KafkaProducer(kafka, client_id=f"{SERVICES[service]}-relay")
    relay = OutboxRelay(dsn=asyncpg_dsn(url), producer=producer, source=f"/{SERVICES[service]}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await producer.start()
    try:
        await relay.run(stop)
    finally:
        await producer.stop()


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] not in SERVICES:
        sys.stderr.write(f"usage: python -m mesh.messaging.relay_main {{{','.join(SERVICES)}}}\n")
        raise SystemExit(2)
    configure_logging(f"{SERVICES[sys.argv[1]]}-relay", fmt=os.environ.get("OMS_LOG_FORMAT", "json"))
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run(sys.argv[1]))
    except SettingsError as exc:
        sys.stderr.write(f"relay: {exc}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
