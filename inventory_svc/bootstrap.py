"""The composition root: builds every client of the inventory service. Nothing connects here:
the workers start the Kafka producer when they run, and ``close()`` releases everything."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from inventory_svc.adapters.catalog_cache import CatalogCache, RedisCatalogCache
from inventory_svc.entrypoints.events import OrderEventHandlers
from inventory_svc.entrypoints.grpc_servicer import InventoryServicer
from inventory_svc.service_layer.unit_of_work import InventoryUnitOfWork, SqlUnitOfWork
from inventory_svc.settings import InventorySettings
from mesh.cache import Cache
from mesh.db import asyncpg_dsn, create_engine, session_factory
from mesh.kafka import ConsumerSpec, EventConsumer, KafkaProducer, Topics
from mesh.relay import OutboxRelay
from mesh.server import ServiceProcess
from mesh.settings import KafkaSettings, RedisSettings
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc

SERVICE = "inventory-svc"
# Package name: where the migrations live (mesh.migrate) and the logger's service name.
SERVICE_MODULE = "inventory_svc"
CONSUMER_GROUP = "inventory-svc"


@dataclass
class Inventory:
    settings: InventorySettings
    kafka: KafkaSettings
    topics: Topics
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    cache: Cache
    catalog_cache: CatalogCache
    producer: KafkaProducer

    def uow(self) -> InventoryUnitOfWork:
        return SqlUnitOfWork(self.sessions, self.topics)

    def servicer(self) -> InventoryServicer:
        return InventoryServicer(self.uow, self.catalog_cache)

    def event_handlers(self) -> OrderEventHandlers:
        return OrderEventHandlers(self.uow, self.catalog_cache)

    @property
    def consumer_group(self) -> str:
        return CONSUMER_GROUP + self.settings.consumer_group_suffix

    def consumer(self) -> EventConsumer:
        spec = ConsumerSpec(
            group_id=self.consumer_group, topics=[self.topics.orders], handlers=self.event_handlers().handlers()
        )
        return EventConsumer(self.kafka, spec, dlq_producer=self.producer)

    def relay(self) -> OutboxRelay:
        return OutboxRelay(dsn=asyncpg_dsn(self.settings.database_url), producer=self.producer, source=SERVICE)

    async def run_relay(self, stop: asyncio.Event) -> None:
        await self.producer.start()  # idempotent; shared with the consumer's dead-letter path
        await self.relay().run(stop)

    async def run_consumer(self, stop: asyncio.Event) -> None:
        await self.producer.start()
        await self.consumer().run(stop)

    def process(self) -> ServiceProcess:
        servicer = self.servicer()
        workers = [self.run_relay, self.run_consumer] if self.settings.run_workers else []
        return ServiceProcess(
            name=SERVICE,
            host=self.settings.grpc_host,
            port=self.settings.grpc_port,
            service_names=[inventory_pb2.DESCRIPTOR.services_by_name["InventoryService"].full_name],
            register=lambda server: inventory_pb2_grpc.add_InventoryServiceServicer_to_server(servicer, server),
            workers=workers,
            on_close=[self.close],
            grace_s=self.settings.shutdown_grace_s,
        )

    async def close(self) -> None:
        await self.producer.stop()
        await self.cache.close()
        await self.engine.dispose()


def bootstrap(settings: InventorySettings, kafka: KafkaSettings, redis: RedisSettings) -> Inventory:
    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
    cache = Cache.from_settings(
        redis, service=SERVICE, key_prefix=settings.cache_key_prefix, breaker_s=settings.cache_breaker_s
    )
    return Inventory(
        settings=settings,
        kafka=kafka,
        topics=Topics(kafka.topic_prefix),
        engine=engine,
        sessions=session_factory(engine),
        cache=cache,
        catalog_cache=RedisCatalogCache(cache),
        producer=KafkaProducer(kafka, client_id=SERVICE),
    )
