"""The composition root builds without connecting anything, and its overrides replace one port each."""

from __future__ import annotations

from mesh.auth.interceptor import AuthServerInterceptor
from mesh.auth.settings import AuthSettings
from mesh.settings.common import KafkaSettings
from notify_svc.bootstrap import CONSUMER_GROUP, SERVICES, bootstrap, build_dependencies
from notify_svc.service_layer.notifications import record_order_event
from notify_svc.settings import Config, NotifySettings
from tests.unit.notify.fakes import FakeChannel, FakeClock, FakeMetrics, FakeRepository, FakeUnitOfWork, placed

# Nothing listens here: a build that connected would fail (and the test with it).
UNREACHABLE_DB = "postgresql+asyncpg://oms:oms@127.0.0.1:1/oms_notify"


def config(**settings: object) -> Config:
    return Config(
        service=NotifySettings(database_url=UNREACHABLE_DB, **settings),  # type: ignore[arg-type]
        kafka=KafkaSettings(bootstrap="127.0.0.1:1"),
        auth=AuthSettings(),
    )


async def test_dependencies_take_the_overrides_and_the_handlers_run_on_them() -> None:
    repo, inbox, channel, clock, metrics = FakeRepository(), set[str](), FakeChannel(), FakeClock(), FakeMetrics()

    deps = build_dependencies(
        config(), uow=lambda: FakeUnitOfWork(repo, inbox), channels=[channel], metrics=metrics, clock=clock
    )
    [n] = await record_order_event(placed(), deps)

    assert dict(deps.channels) == {"email": channel}
    assert (deps.clock, deps.metrics) == (clock, metrics)
    assert (n.create_time, list(repo.rows), inbox) == (clock.now, [n.notification_id], {"ev-1"})
    await deps.wake()  # without a dispatcher to wake, waking is harmless


async def test_the_process_serves_its_services_behind_auth_and_runs_the_consumer_and_both_dispatchers() -> None:
    process = bootstrap(config(grpc_port=0), channels=[FakeChannel()])
    try:
        assert process.name == "notify_svc"
        assert list(process.service_names) == [service.full_name for service in SERVICES]
        assert any(isinstance(i, AuthServerInterceptor) for i in process.interceptors)
        # The consumer, the notifications' dispatcher and the webhook deliveries' dispatcher.
        assert len(process.workers) == 3
    finally:
        for close in process.on_close:
            await close()


async def test_a_grpc_only_process_runs_no_workers() -> None:
    process = bootstrap(config(run_workers=False), channels=[FakeChannel()])
    try:
        assert process.workers == []
    finally:
        for close in process.on_close:
            await close()


def test_the_consumer_group_is_the_inbox_name_plus_the_configured_suffix() -> None:
    assert config(consumer_group_suffix="-t1").service.group_id(CONSUMER_GROUP) == "notify-svc-t1"
