"""The composition root builds without connecting anything, picks the provider from the
settings, and its overrides replace one port each."""

from __future__ import annotations

import pytest

from mesh.auth.interceptor import AuthServerInterceptor
from mesh.auth.settings import AuthSettings
from mesh.settings.common import KafkaSettings, SettingsError
from payment_svc.adapters.simulated_provider import SimulatedProvider
from payment_svc.bootstrap import CONSUMER_GROUP, SERVICES, bootstrap, build_dependencies, payment_provider
from payment_svc.service_layer import payments
from payment_svc.settings import Config, PaymentSettings
from tests.unit.payment_svc.fakes import FakeClock, FakeMetrics, FakeProvider, FakeUnitOfWork, Store

# Nothing listens here: a build that connected would fail (and the test with it).
UNREACHABLE_DB = "postgresql+asyncpg://oms:oms@127.0.0.1:1/oms_payment"


def config(**settings: object) -> Config:
    return Config(
        service=PaymentSettings(database_url=UNREACHABLE_DB, **settings),  # type: ignore[arg-type]
        kafka=KafkaSettings(bootstrap="127.0.0.1:1"),
        auth=AuthSettings(),
    )


async def test_dependencies_take_the_overrides_and_the_handlers_run_on_them() -> None:
    store, clock, provider, metrics = Store(), FakeClock(), FakeProvider(), FakeMetrics()
    deps = build_dependencies(
        config(), uow=lambda: FakeUnitOfWork(store, clock), provider=provider, metrics=metrics, clock=clock
    )
    await payments.order_placed(payments.OrderPlaced("e1", "ord-1", "c", 100, "EUR", [100], "tok_visa"), deps)
    await payments.inventory_reserved(payments.InventoryReserved("e2", "ord-1"), deps)

    assert (deps.provider, deps.metrics, deps.clock) == (provider, metrics, clock)
    assert store.payments["ord-1"].status.value == "AUTHORIZED" and store.inbox == {"e1", "e2"}


def test_the_simulated_provider_is_the_default() -> None:
    assert isinstance(build_dependencies(config(), uow=lambda: None).provider, SimulatedProvider)  # type: ignore[arg-type, return-value]


def test_stripe_without_an_api_key_is_a_bad_setting() -> None:
    with pytest.raises(SettingsError, match="OMS_PAYMENT_STRIPE_API_KEY"):
        payment_provider(PaymentSettings(provider="stripe"))


async def test_the_process_serves_both_services_behind_auth_with_relay_consumer_and_reconciler() -> None:
    process = bootstrap(config(grpc_port=0), provider=FakeProvider())
    try:
        assert process.name == "payment_svc"
        assert list(process.service_names) == [service.full_name for service in SERVICES]
        assert any(isinstance(i, AuthServerInterceptor) for i in process.interceptors)
        assert len(process.workers) == 3
    finally:
        for close in process.on_close:
            await close()


async def test_a_grpc_only_process_runs_no_workers() -> None:
    process = bootstrap(config(run_workers=False, run_relay=False), provider=FakeProvider())
    try:
        assert process.workers == []
    finally:
        for close in process.on_close:
            await close()


def test_the_consumer_group_is_the_service_name_plus_the_configured_suffix() -> None:
    assert config(consumer_group_suffix="-t1").service.group_id(CONSUMER_GROUP) == "payment-svc-t1"


def test_stripe_is_built_from_its_settings_without_connecting() -> None:
    from payment_svc.adapters.stripe_provider import StripeProvider

    settings = PaymentSettings(provider="stripe", stripe_api_key="sk_test_x", stripe_api_base="http://127.0.0.1:1")
    provider = payment_provider(settings)
    assert isinstance(provider, StripeProvider) and provider.name == "stripe"
