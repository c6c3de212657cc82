"""The composition root wires without connecting: what the process serves and runs, and who
closes the connections."""

from __future__ import annotations

from mesh.auth.settings import AuthSettings
from mesh.serving.server import ServiceProcess
from mesh.settings.common import KafkaSettings, RedisSettings
from order_svc.bootstrap import SERVICE, bootstrap, build_connections, build_dependencies
from order_svc.settings import Config, OrderSettings
from tests.unit.order.fakes import Fakes


def _config(*, run_relay: bool = True, run_workers: bool = True, stock_precheck: bool = True) -> Config:
    service = OrderSettings(run_relay=run_relay, run_workers=run_workers, stock_precheck=stock_precheck)
    return Config(service, KafkaSettings(), RedisSettings(), AuthSettings(enabled=False))


async def _close(process: ServiceProcess) -> None:
    for close in process.on_close:
        await close()


async def test_the_process_serves_its_three_services_and_runs_every_loop() -> None:
    process = bootstrap(_config())
    assert process.name == SERVICE
    assert list(process.service_names) == [
        "oms.order.v1.OrderService",
        "oms.order.v1.CustomerService",
        "oms.order.v1.OrderOperationsService",
    ]
    # watch hub, relay, consumer, unpaid sweeper, pending watch
    assert len(process.workers) == 5 and len(process.on_close) == 1
    await _close(process)


async def test_workers_follow_the_settings() -> None:
    for run_relay, run_workers, count in [(False, True, 4), (True, False, 2), (False, False, 1)]:
        process = bootstrap(_config(run_relay=run_relay, run_workers=run_workers))
        assert len(process.workers) == count  # the watch hub always runs: WatchOrder needs it
        await _close(process)


async def test_connections_handed_in_are_left_to_the_caller() -> None:
    config = _config()
    connections = build_connections(config)
    try:
        assert bootstrap(config, connections=connections).on_close == []
    finally:
        await connections.close()


def test_ports_handed_in_replace_the_built_ones() -> None:
    """With the unit of work, inventory and the cache handed in, nothing needs a connection."""
    fakes = Fakes()
    deps = build_dependencies(
        _config(stock_precheck=False),
        uow=fakes.uow,
        inventory=fakes.inventory,
        cache=fakes.cache,
        price_book=fakes.price_book,
        metrics=fakes.metrics,
    )
    assert (deps.uow, deps.inventory, deps.cache, deps.price_book, deps.metrics) == (
        fakes.uow,
        fakes.inventory,
        fakes.cache,
        fakes.price_book,
        fakes.metrics,
    )
    assert deps.stock_precheck is False
