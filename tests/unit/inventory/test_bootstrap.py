"""The composition root wires without connecting: what the process serves and runs, and who
closes the connections."""

from __future__ import annotations

from inventory_svc.bootstrap import SERVICE, bootstrap, build_connections, build_dependencies
from inventory_svc.settings import Config, InventorySettings
from mesh.auth.settings import AuthSettings
from mesh.serving.server import ServiceProcess
from mesh.settings.common import KafkaSettings, RedisSettings
from tests.unit.inventory.fakes import Fakes


def _config(*, run_relay: bool = True, run_workers: bool = True) -> Config:
    service = InventorySettings(run_relay=run_relay, run_workers=run_workers)
    return Config(service, KafkaSettings(), RedisSettings(), AuthSettings(enabled=False))


async def _close(process: ServiceProcess) -> None:
    for close in process.on_close:
        await close()


async def test_the_process_serves_both_services_and_runs_relay_and_consumer() -> None:
    process = bootstrap(_config())
    assert process.name == SERVICE
    assert list(process.service_names) == [
        "oms.inventory.v1.InventoryService",
        "oms.inventory.v1.InventoryOperationsService",
    ]
    assert len(process.workers) == 2 and len(process.on_close) == 1
    await _close(process)


async def test_workers_follow_the_settings() -> None:
    for run_relay, run_workers, count in [(False, True, 1), (True, False, 1), (False, False, 0)]:
        process = bootstrap(_config(run_relay=run_relay, run_workers=run_workers))
        assert len(process.workers) == count
        await _close(process)


async def test_connections_handed_in_are_left_to_the_caller() -> None:
    config = _config()
    connections = build_connections(config)
    try:
        assert bootstrap(config, connections=connections).on_close == []
    finally:
        await connections.close()


def test_ports_handed_in_replace_the_built_ones() -> None:
    """With the unit of work and the cache handed in, nothing needs a connection."""
    fakes = Fakes()
    deps = build_dependencies(_config(), uow=fakes.uow, catalog_cache=fakes.cache, metrics=fakes.metrics)
    assert (deps.uow, deps.catalog_cache, deps.metrics) == (fakes.uow, fakes.cache, fakes.metrics)
