"""``python -m order_svc``: run the order service."""

from mesh.serving.entry import ServiceEntry, main
from order_svc.adapters.topics import DECLARED
from order_svc.bootstrap import SERVICE, bootstrap
from order_svc.settings import Config, load_config

ENTRY = ServiceEntry[Config](
    name=SERVICE,
    load_config=load_config,
    service_settings=lambda c: c.service,
    kafka_settings=lambda c: c.kafka,
    database_variable="OMS_ORDER_DATABASE_URL",
    topics=DECLARED,
    build=bootstrap,
)

if __name__ == "__main__":
    main(ENTRY)
