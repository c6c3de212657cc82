"""``python -m notify_svc``: settings, reachable database, migrations, topics, metrics, serve.

The order of start and the exit status 2 with one line on a bad setting or an unreachable
database live once, in mesh.serving.entry; the consumer and the dispatcher run as the process's workers.
"""

from __future__ import annotations

from mesh.serving.entry import ServiceEntry, main
from notify_svc.adapters.topics import DECLARED
from notify_svc.bootstrap import SERVICE, bootstrap
from notify_svc.settings import load_config

ENTRY = ServiceEntry(
    name=SERVICE,
    load_config=load_config,
    service_settings=lambda config: config.service,
    kafka_settings=lambda config: config.kafka,
    database_variable="OMS_NOTIFY_DATABASE_URL",
    topics=DECLARED,
    build=bootstrap,
)

if __name__ == "__main__":
    main(ENTRY)
