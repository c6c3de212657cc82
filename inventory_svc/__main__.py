"""``python -m inventory_svc``: settings, reachable database, migrations, topics, metrics, serve.

The order and the exit status 2 on a bad setting or an unreachable database live in mesh.serving.entry.
"""

from __future__ import annotations

from inventory_svc.adapters.topics import DECLARED
from inventory_svc.bootstrap import SERVICE, bootstrap
from inventory_svc.settings import load_config
from mesh.serving.entry import ServiceEntry, main

ENTRY = ServiceEntry(
    name=SERVICE,
    load_config=load_config,
    service_settings=lambda config: config.service,
    kafka_settings=lambda config: config.kafka,
    database_variable="OMS_INVENTORY_DATABASE_URL",
    topics=DECLARED,
    build=bootstrap,
)

if __name__ == "__main__":
    main(ENTRY)
