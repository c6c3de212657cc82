"""The webhook use cases over fakes: registering endpoints (bad input → field violations), one
delivery per event and active endpoint recorded with the event, none twice for a redelivered
event, and the dispatcher's retry, give-up and admin retry."""

from __future__ import annotations

import pytest

from mesh.serving.errors import FailedPrecondition, InvalidArgument, NotFound
from notify_svc.domain.retry_policy import RetryPolicy
from notify_svc.domain.webhooks import MAX_ENDPOINTS, DeliveryStatus, JitteredRetry, WebhookEndpoint, secret_from
from notify_svc.service_layer.notifications import record_order_event
from notify_svc.service_layer.ports import DeliveryQuery, WebhookError
from notify_svc.service_layer.webhook_delivery import WebhookDeliverySettings, WebhookDispatcher
from notify_svc.service_layer.webhooks import (
    NewEndpoint,
    delete_endpoint,
    list_deliveries,
    list_endpoints,
    register_endpoint,
    retry_delivery,
    set_endpoint_disabled,
)
from tests.unit.notify.fakes import Harness, placed, status_changed

CLOUD_EVENT = '{"specversion":"1.0","id":"ev-1"}'
SETTINGS = WebhookDeliverySettings(retry=JitteredRetry(RetryPolicy(3, 10, 60), lambda: 0.5))


async def endpoint(h: Harness, url: str = "https://a.example.com/hook") -> WebhookEndpoint:
    return (await register_endpoint(NewEndpoint(url), h.deps)).endpoint


def rows(h: Harness) -> list[tuple[str, str]]:
    return sorted((d.event_id, d.endpoint_id) for d in h.deliveries.rows.values())


# --- endpoints ------------------------------------------------------------------------------------


async def test_registering_returns_a_generated_secret_once_and_lists_the_endpoint() -> None:
    h = Harness()
    registered = await register_endpoint(NewEndpoint(" https://a.example.com/hook ", "billing"), h.deps)
    assert registered.secret == "whsec_" + "A" * 40
    assert (registered.endpoint.url, registered.endpoint.description) == ("https://a.example.com/hook", "billing")
    assert [e.endpoint_id for e in await list_endpoints(h.deps)] == [registered.endpoint.endpoint_id]


async def test_a_supplied_secret_is_kept() -> None:
    h = Harness()
    secret = secret_from(b"s" * 32)
    registered = await register_endpoint(NewEndpoint("https://a.example.com/", secret=secret), h.deps)
    assert registered.secret == secret == h.endpoints.rows[registered.endpoint.endpoint_id].secret


async def test_bad_url_and_secret_are_field_violations_together() -> None:
    h = Harness()
    with pytest.raises(InvalidArgument) as caught:
        await register_endpoint(NewEndpoint("http://hooks.example.com/", secret="plain"), h.deps)
    assert [v.field for v in caught.value.violations] == ["endpoint.url", "secret"]
    with pytest.raises(InvalidArgument) as empty:
        await register_endpoint(NewEndpoint("  "), h.deps)
    assert [(v.field, v.description) for v in empty.value.violations] == [("endpoint.url", "required")]
    assert h.endpoints.rows == {}


async def test_outside_development_a_loopback_endpoint_is_refused() -> None:
    h = Harness()
    object.__setattr__(h.deps, "development", False)
    with pytest.raises(InvalidArgument, match="https"):
        await register_endpoint(NewEndpoint("http://127.0.0.1:9/hook"), h.deps)


async def test_the_number_of_endpoints_is_capped() -> None:
    h = Harness()
    for n in range(MAX_ENDPOINTS):
        await endpoint(h, f"https://a.example.com/{n}")
    with pytest.raises(FailedPrecondition, match=f"at most {MAX_ENDPOINTS}"):
        await endpoint(h)


async def test_disable_enable_and_delete_name_unknown_or_malformed_ids() -> None:
    h = Harness()
    e = await endpoint(h)
    assert (await set_endpoint_disabled(e.endpoint_id, True, h.deps)).disabled
    assert not (await set_endpoint_disabled(e.endpoint_id, False, h.deps)).disabled
    await delete_endpoint(e.endpoint_id, h.deps)
    with pytest.raises(NotFound):
        await delete_endpoint(e.endpoint_id, h.deps)
    with pytest.raises(NotFound):
        await set_endpoint_disabled(e.endpoint_id, True, h.deps)
    with pytest.raises(InvalidArgument) as bad:
        await set_endpoint_disabled("not-a-uuid", True, h.deps)
    assert [v.field for v in bad.value.violations] == ["endpoint_id"]


# --- recording ------------------------------------------------------------------------------------


async def test_one_delivery_per_event_and_active_endpoint_recorded_with_the_event() -> None:
    h = Harness()
    a, b, off = (
        await endpoint(h, "https://a.example.com/"),
        await endpoint(h, "https://b.example.com/"),
        await endpoint(h),
    )
    await set_endpoint_disabled(off.endpoint_id, True, h.deps)

    await record_order_event(placed("ev-1"), h.deps, CLOUD_EVENT)
    await record_order_event(status_changed("ev-2"), h.deps, CLOUD_EVENT)

    assert rows(h) == sorted([(ev, e.endpoint_id) for ev in ("ev-1", "ev-2") for e in (a, b)])
    assert {d.payload for d in h.deliveries.rows.values()} == {CLOUD_EVENT}
    assert {d.order_id for d in h.deliveries.rows.values()} == {"ord-1"}
    assert h.wakes == 2  # each commit wakes the dispatchers


async def test_a_redelivered_event_records_no_second_delivery() -> None:
    h = Harness()
    await endpoint(h)
    await record_order_event(placed("ev-1"), h.deps, CLOUD_EVENT)
    before = dict(h.deliveries.rows)

    assert await record_order_event(placed("ev-1"), h.deps, CLOUD_EVENT) == []
    assert h.deliveries.rows == before


async def test_an_event_without_endpoints_records_only_notifications() -> None:
    h = Harness()
    [n] = await record_order_event(placed("ev-1"), h.deps, CLOUD_EVENT)
    assert n.channel == "email" and h.deliveries.rows == {}


# --- dispatching ----------------------------------------------------------------------------------


async def test_a_due_delivery_is_posted_once_and_marked_delivered() -> None:
    h = Harness()
    e = await endpoint(h)
    await record_order_event(placed("ev-1"), h.deps, CLOUD_EVENT)
    dispatcher = WebhookDispatcher(h.deps, SETTINGS)

    assert await dispatcher.dispatch_due() == 1
    assert await dispatcher.dispatch_due() == 0
    [d] = h.deliveries.rows.values()
    assert h.webhooks.posted == [(d.delivery_id, e.url)]
    assert (d.status, d.attempts, d.last_http_status) == (DeliveryStatus.DELIVERED, 1, 200)
    assert h.metrics.counts == {("sent", "webhook"): 1}


async def test_a_5xx_is_retried_after_the_jittered_wait_with_the_same_delivery_id() -> None:
    h = Harness()
    e = await endpoint(h)
    h.webhooks.fail_next(e.url, WebhookError("HTTP 503", retriable=True, http_status=503))
    await record_order_event(placed("ev-1"), h.deps, CLOUD_EVENT)
    dispatcher = WebhookDispatcher(h.deps, SETTINGS)

    await dispatcher.dispatch_due()
    [d] = h.deliveries.rows.values()
    assert (d.status, d.last_error, d.last_http_status) == (DeliveryStatus.PENDING, "HTTP 503", 503)
    assert d.next_attempt_at == h.clock.now + SETTINGS.retry.delay_after(1)
    assert await dispatcher.dispatch_due() == 0  # not due yet
    h.clock.advance(SETTINGS.retry.delay_after(1).total_seconds())
    await dispatcher.dispatch_due()

    [again] = h.deliveries.rows.values()
    assert again.status is DeliveryStatus.DELIVERED and again.attempts == 2
    assert [posted_id for posted_id, _ in h.webhooks.posted] == [d.delivery_id, d.delivery_id]
    assert h.metrics.counts == {("retried", "webhook"): 1, ("sent", "webhook"): 1}


async def test_a_permanent_refusal_fails_at_once_and_an_admin_retry_delivers_it() -> None:
    h = Harness()
    e = await endpoint(h)
    h.webhooks.fail_next(e.url, WebhookError("HTTP 410", retriable=False, http_status=410))
    await record_order_event(placed("ev-1"), h.deps, CLOUD_EVENT)
    dispatcher = WebhookDispatcher(h.deps, SETTINGS)
    await dispatcher.dispatch_due()
    [d] = h.deliveries.rows.values()
    assert d.status is DeliveryStatus.FAILED

    failed = await list_deliveries(DeliveryQuery(limit=10, status=DeliveryStatus.FAILED), h.deps)
    assert [x.delivery_id for x in failed.deliveries] == [d.delivery_id]
    assert (await retry_delivery(d.delivery_id, h.deps)).status is DeliveryStatus.PENDING
    await dispatcher.dispatch_due()
    assert h.deliveries.rows[d.delivery_id].status is DeliveryStatus.DELIVERED
    with pytest.raises(FailedPrecondition, match="only FAILED"):
        await retry_delivery(d.delivery_id, h.deps)


async def test_retries_stop_when_the_budget_is_spent() -> None:
    h = Harness()
    e = await endpoint(h)
    h.webhooks.fail_next(e.url, WebhookError("timed out", retriable=True), times=5)
    await record_order_event(placed("ev-1"), h.deps, CLOUD_EVENT)
    dispatcher = WebhookDispatcher(h.deps, SETTINGS)
    for _ in range(5):
        await dispatcher.dispatch_due()
        h.clock.advance(3600)
    [d] = h.deliveries.rows.values()
    assert (d.status, d.attempts) == (DeliveryStatus.FAILED, 3)
    assert len(h.webhooks.posted) == 3


async def test_deliveries_to_a_deleted_or_disabled_endpoint_fail_without_a_post() -> None:
    h = Harness()
    gone, off = await endpoint(h, "https://gone.example.com/"), await endpoint(h, "https://off.example.com/")
    await record_order_event(placed("ev-1"), h.deps, CLOUD_EVENT)
    await delete_endpoint(gone.endpoint_id, h.deps)
    await set_endpoint_disabled(off.endpoint_id, True, h.deps)

    await WebhookDispatcher(h.deps, SETTINGS).dispatch_due()

    assert h.webhooks.posted == []
    errors = {d.endpoint_id: (d.status, d.last_error) for d in h.deliveries.rows.values()}
    assert errors == {
        gone.endpoint_id: (DeliveryStatus.FAILED, "the endpoint was deleted"),
        off.endpoint_id: (DeliveryStatus.FAILED, "the endpoint is disabled"),
    }


async def test_a_sender_bug_costs_the_delivery_a_retry_not_the_batch() -> None:
    h = Harness()
    await endpoint(h, "https://a.example.com/")
    await endpoint(h, "https://b.example.com/")

    async def broken(delivery: object, endpoint: WebhookEndpoint) -> int:
        if endpoint.url.startswith("https://a."):
            raise RuntimeError("boom")
        return 200

    h.webhooks.post = broken  # type: ignore[method-assign]
    await record_order_event(placed("ev-1"), h.deps, CLOUD_EVENT)
    await WebhookDispatcher(h.deps, SETTINGS).dispatch_due()

    statuses = sorted(d.status.value for d in h.deliveries.rows.values())
    assert statuses == ["DELIVERED", "PENDING"]


async def test_listing_pages_newest_first_with_filters() -> None:
    h = Harness()
    a, b = await endpoint(h, "https://a.example.com/"), await endpoint(h, "https://b.example.com/")
    for n in range(3):
        await record_order_event(placed(f"ev-{n}", order_id=f"ord-{n}"), h.deps, CLOUD_EVENT)
        h.clock.advance(1)

    first = await list_deliveries(DeliveryQuery(limit=2, endpoint_id=a.endpoint_id), h.deps)
    assert [d.event_id for d in first.deliveries] == ["ev-2", "ev-1"] and first.next is not None
    rest = await list_deliveries(DeliveryQuery(limit=2, endpoint_id=a.endpoint_id, after=first.next), h.deps)
    assert [d.event_id for d in rest.deliveries] == ["ev-0"] and rest.next is None
    by_order = await list_deliveries(DeliveryQuery(limit=10, order_id="ord-1"), h.deps)
    assert {d.endpoint_id for d in by_order.deliveries} == {a.endpoint_id, b.endpoint_id}


async def test_listing_by_an_endpoint_id_that_is_not_one_is_a_field_violation() -> None:
    # Found by schemathesis: a 128-character id reached the database and came back INTERNAL.
    with pytest.raises(InvalidArgument) as caught:
        await list_deliveries(DeliveryQuery(limit=10, endpoint_id="0" * 128), Harness().deps)
    assert [v.field for v in caught.value.violations] == ["endpoint_id"]
