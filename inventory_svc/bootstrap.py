"""The composition root: builds every client of the inventory service. Nothing connects here:
the producer starts when the process starts (or a worker runs), and ``close()`` releases all."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import grpc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from inventory_svc.adapters.catalog_cache import CatalogCache, RedisCatalogCache
from inventory_svc.adapters.topics import ORDERS
from inventory_svc.entrypoints.events import OrderEventHandlers
from inventory_svc.entrypoints.grpc_servicer import InventoryServicer
from inventory_svc.service_layer.unit_of_work import InventoryUnitOfWork, SqlUnitOfWork
from inventory_svc.settings import Config
from mesh.auth.authorization import rules_of
from mesh.auth.interceptor import AuthServerInterceptor
from mesh.auth.tls import MeshTls, server_interceptors
from mesh.auth.verification import TokenVerifier
from mesh.messaging.dead_letters import DeadLetters, EventTypes
from mesh.messaging.kafka import ConsumerSpec, EventConsumer, KafkaProducer, Topics
from mesh.messaging.operations import operations_servicer
from mesh.messaging.parked import SqlParkedEvents
from mesh.messaging.relay import OutboxRelay
from mesh.serving.server import ServiceProcess, Worker
from mesh.storage.cache import Cache
from mesh.storage.engine import asyncpg_dsn, create_engine, session_factory
from mesh.storage.paging import PageTokens
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc, operations_pb2, operations_pb2_grpc

# Package name: the migrations' home (mesh.storage.migrate), the logs' and metrics' service name.
SERVICE = "inventory_svc"
CONSUMER_GROUP = "inventory-svc"
SERVICES = (
    inventory_pb2.DESCRIPTOR.services_by_name["InventoryService"],
    operations_pb2.DESCRIPTOR.services_by_name["InventoryOperationsService"],
)


@dataclass
class Inventory:
    config: Config
    topics: Topics
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    cache: Cache
    catalog_cache: CatalogCache
    producer: KafkaProducer
    page_tokens: PageTokens

    def uow(self) -> InventoryUnitOfWork:
        return SqlUnitOfWork(self.sessions, self.topics)

    def servicer(self) -> InventoryServicer:
        return InventoryServicer(self.uow, self.catalog_cache, self.page_tokens)

    def event_handlers(self) -> OrderEventHandlers:
        return OrderEventHandlers(self.uow, self.catalog_cache)

    @property
    def consumed_topics(self) -> list[str]:
        return [self.topics.name(ORDERS)]

    def operations(self) -> Any:
        dead_letters = DeadLetters(
            self.config.kafka,
            self.consumed_topics,
            EventTypes.of(self.event_handlers().handlers()),
            self.producer,
            consumer_group=self.consumer_group,
        )
        return operations_servicer(
            operations_pb2_grpc.InventoryOperationsServiceServicer,
            dead_letters,
            SqlParkedEvents(self.engine),
            self.page_tokens,
        )

    @property
    def consumer_group(self) -> str:
        return self.config.service.group_id(CONSUMER_GROUP)

    def consumer(self) -> EventConsumer:
        spec = ConsumerSpec(
            group_id=self.consumer_group, topics=self.consumed_topics, handlers=self.event_handlers().handlers()
        )
        return EventConsumer(self.config.kafka, spec, dlq_producer=self.producer)

    def relay(self) -> OutboxRelay:
        dsn = asyncpg_dsn(self.config.service.database_url)
        return OutboxRelay(dsn=dsn, producer=self.producer, source=f"/{SERVICE}")

    async def run_relay(self, stop: asyncio.Event) -> None:
        await self.producer.start()  # idempotent: also started by the process (on_start)
        await self.relay().run(stop)

    async def run_consumer(self, stop: asyncio.Event) -> None:
        await self.producer.start()  # dead letters are produced with it
        await self.consumer().run(stop)

    def process(self) -> ServiceProcess:
        settings = self.config.service
        servicer = self.servicer()
        operations = self.operations()

        def register(server: grpc.aio.Server) -> None:
            inventory_pb2_grpc.add_InventoryServiceServicer_to_server(servicer, server)
            operations_pb2_grpc.add_InventoryOperationsServiceServicer_to_server(operations, server)

        tls = MeshTls.from_settings(self.config.tls)
        workers: list[Worker] = []
        if settings.run_relay:
            workers.append(self.run_relay)
        if settings.run_workers:
            workers.append(self.run_consumer)
        return ServiceProcess(
            name=SERVICE,
            host=settings.grpc_host,
            port=settings.grpc_port,
            service_names=[service.full_name for service in SERVICES],
            register=register,
            workers=workers,
            interceptors=[
                *server_interceptors(tls, settings.tls_allowed_clients),
                AuthServerInterceptor(TokenVerifier(self.config.auth), rules_of(SERVICES)),
            ],
            tls=tls,
            on_start=[self.producer.start],
            on_close=[self.close],
            grace_s=settings.shutdown_grace_s,
            max_calls_per_principal=settings.max_concurrent_calls_per_principal,
        )

    async def close(self) -> None:
        await self.producer.stop()
        await self.cache.close()
        await self.engine.dispose()


def bootstrap(config: Config) -> Inventory:
    settings = config.service
    engine = create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        lock_timeout_s=settings.db_lock_timeout_s,
        statement_timeout_s=settings.db_statement_timeout_s,
    )
    cache = Cache.from_settings(
        config.redis, service=SERVICE, key_prefix=settings.cache_key_prefix, breaker_s=settings.cache_breaker_s
    )
    return Inventory(
        config=config,
        topics=Topics(config.kafka.topic_prefix),
        engine=engine,
        sessions=session_factory(engine),
        cache=cache,
        catalog_cache=RedisCatalogCache(cache),
        producer=KafkaProducer(config.kafka, client_id=SERVICE),
        page_tokens=PageTokens.from_settings(config.paging),
    )
