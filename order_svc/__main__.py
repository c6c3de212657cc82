"""``python -m order_svc``: run the order service."""

from mesh.auth.settings import load_auth
from mesh.auth.tls import TlsSettings
from mesh.serving.entry import ServiceEntry, main
from mesh.settings.common import KafkaSettings, RedisSettings, load
from mesh.storage.paging import load_page_token_settings
from order_svc.adapters.topics import DECLARED
from order_svc.bootstrap import SERVICE, OrderConfig, build
from order_svc.settings import OrderSettings


def load_config() -> OrderConfig:
    return OrderConfig(
        service=load(OrderSettings),
        kafka=load(KafkaSettings),
        redis=load(RedisSettings),
        auth=load_auth(),
        paging=load_page_token_settings(),
        tls=load(TlsSettings),
    )


if __name__ == "__main__":
    main(
        ServiceEntry(
            name=SERVICE,
            load_config=load_config,
            service_settings=lambda c: c.service,
            kafka_settings=lambda c: c.kafka,
            database_variable="OMS_ORDER_DATABASE_URL",
            topics=DECLARED,
            build=build,
        )
    )
