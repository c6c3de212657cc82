"""The webhook use cases: endpoints (register, list, disable, enable, delete), recording one
delivery per event and active endpoint, and the deliveries' listing and admin retry.
Delivering what is recorded is ``webhook_delivery``."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass

from mesh.serving.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PreconditionViolation,
    shown,
)
from mesh.values.violations import FieldViolation
from notify_svc.domain.orders import OrderEvent
from notify_svc.domain.webhooks import (
    MAX_ENDPOINTS,
    InvalidDeliveryTransition,
    WebhookDelivery,
    WebhookEndpoint,
    secret_problem,
    url_problem,
)
from notify_svc.service_layer.ports import DeliveryCursor, DeliveryQuery, Dependencies, UnitOfWork


@dataclass(frozen=True)
class NewEndpoint:
    url: str
    description: str = ""
    # Empty: one is generated.
    secret: str = ""


@dataclass(frozen=True)
class Registered:
    endpoint: WebhookEndpoint
    # Shown to the caller once, in the response of the registration.
    secret: str


@dataclass(frozen=True)
class DeliveryPage:
    deliveries: list[WebhookDelivery]
    next: DeliveryCursor | None


async def register_endpoint(command: NewEndpoint, deps: Dependencies) -> Registered:
    url = command.url.strip()
    violations = []
    problem = url_problem(url, development=deps.development) if url else "required"
    if problem:
        violations.append(FieldViolation("endpoint.url", problem))
    if command.secret and (problem := secret_problem(command.secret)):
        violations.append(FieldViolation("secret", problem))
    if violations:
        raise InvalidArgument(violations)
    secret = command.secret or deps.new_secret()
    now = deps.clock()
    endpoint = WebhookEndpoint(deps.new_id(), url, secret, command.description.strip(), False, now, now)
    async with deps.uow() as uow:
        # Counted under a lock, so two registrations at once cannot both take the last place.
        if await uow.endpoints.count(lock=True) >= MAX_ENDPOINTS:
            # Not RESOURCE_EXHAUSTED: waiting does not help, deleting an endpoint does.
            message = f"at most {MAX_ENDPOINTS} webhook endpoints can be registered; delete one first"
            raise FailedPrecondition(message, violations=[PreconditionViolation("QUOTA", "webhookEndpoints", message)])
        await uow.endpoints.add(endpoint)
        await uow.commit()
    return Registered(endpoint, secret)


async def list_endpoints(deps: Dependencies) -> list[WebhookEndpoint]:
    async with deps.uow() as uow:
        return await uow.endpoints.list()


async def set_endpoint_disabled(endpoint_id: str, disabled: bool, deps: Dependencies) -> WebhookEndpoint:
    _check_uuid("endpoint_id", endpoint_id, "an endpoint id")
    async with deps.uow() as uow:
        endpoint = await _endpoint(uow, endpoint_id)
        endpoint.set_disabled(disabled, deps.clock())
        await uow.endpoints.save(endpoint)
        await uow.commit()
    return endpoint


async def delete_endpoint(endpoint_id: str, deps: Dependencies) -> None:
    _check_uuid("endpoint_id", endpoint_id, "an endpoint id")
    async with deps.uow() as uow:
        if not await uow.endpoints.delete(endpoint_id):
            raise _endpoint_not_found(endpoint_id)
        await uow.commit()


async def record_webhook_deliveries(uow: UnitOfWork, event: OrderEvent, cloud_event: str, deps: Dependencies) -> int:
    """One PENDING delivery of ``cloud_event`` per active endpoint, in the caller's transaction
    (the one that claims the event in the inbox): recorded with the event or not at all."""
    now = deps.clock()
    recorded = 0
    for endpoint in await uow.endpoints.list(active_only=True):
        delivery = WebhookDelivery.pending(
            delivery_id=deps.new_id(),
            endpoint_id=endpoint.endpoint_id,
            event_id=event.event_id,
            event_type=event.event_type,
            order_id=event.order.order_id,
            payload=cloud_event,
            now=now,
        )
        recorded += await uow.deliveries.add(delivery)
    return recorded


async def list_deliveries(query: DeliveryQuery, deps: Dependencies) -> DeliveryPage:
    """One page, newest first; ``next`` is set when there may be more."""
    if query.endpoint_id:  # a filter on the endpoint: an id that is not one is the caller's mistake
        _check_uuid("endpoint_id", query.endpoint_id, "an endpoint id")
    async with deps.uow() as uow:
        rows = await uow.deliveries.list(dataclasses.replace(query, limit=query.limit + 1))
    page, more = rows[: query.limit], len(rows) > query.limit
    last = page[-1] if page else None
    return DeliveryPage(page, DeliveryCursor(last.create_time, last.delivery_id) if more and last else None)


async def retry_delivery(delivery_id: str, deps: Dependencies) -> WebhookDelivery:
    """Admin: a FAILED delivery goes back to PENDING with a fresh budget and the same delivery id."""
    _check_uuid("delivery_id", delivery_id, "a delivery id")
    async with deps.uow() as uow:
        delivery = await uow.deliveries.get(delivery_id, for_update=True)
        if delivery is None:
            raise NotFound(f"webhook delivery {shown(delivery_id)} not found", metadata={"delivery_id": delivery_id})
        try:
            delivery.retry(deps.clock())
        except InvalidDeliveryTransition as exc:
            raise FailedPrecondition(
                str(exc),
                violations=[PreconditionViolation("STATE", f"webhookDeliveries/{delivery_id}", str(exc))],
                metadata={"delivery_id": delivery_id, "status": exc.current.value},
            ) from exc
        await uow.deliveries.save([delivery])
        uow.after_commit(deps.wake)
        await uow.commit()
    return delivery


async def _endpoint(uow: UnitOfWork, endpoint_id: str) -> WebhookEndpoint:
    endpoint = await uow.endpoints.get(endpoint_id, for_update=True)
    if endpoint is None:
        raise _endpoint_not_found(endpoint_id)
    return endpoint


def _endpoint_not_found(endpoint_id: str) -> NotFound:
    return NotFound(f"webhook endpoint {shown(endpoint_id)} not found", metadata={"endpoint_id": endpoint_id})


def _check_uuid(field: str, value: str, what: str) -> None:
    if not value:
        raise InvalidArgument([FieldViolation(field, "required")])
    try:
        uuid.UUID(value)
    except ValueError:
        raise InvalidArgument([FieldViolation(field, f"not {what} (a UUID)")]) from None
