"""``python -m payment_svc``: settings, reachable database, migrations, topics, metrics, serve.

The order and the exit status 2 on a bad setting or an unreachable database live in mesh.serving.entry.
"""

from __future__ import annotations

from mesh.serving.entry import ServiceEntry, main
from payment_svc.adapters.topics import DECLARED
from payment_svc.bootstrap import SERVICE, bootstrap
from payment_svc.settings import load_config

ENTRY = ServiceEntry(
    name=SERVICE,
    load_config=load_config,
    service_settings=lambda config: config.service,
    kafka_settings=lambda config: config.kafka,
    database_variable="OMS_PAYMENT_DATABASE_URL",
    topics=DECLARED,
    build=bootstrap,
)

if __name__ == "__main__":
    main(ENTRY)
