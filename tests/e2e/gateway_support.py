"""The whole mesh behind the real HTTP gateway, as child processes, for the gateway e2e tests.

``start_stack`` starts inventory, orders, notify (mailing an aiosmtpd server of the test's
own) and then ``python -m gateway`` pointed at them, and waits until ``GET /healthz`` is 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from testkit.clients import unique
from testkit.processes import GatewayProcess, Mesh, ServiceProcess, free_port
from tests.integration.notify.support import SmtpServer

# The seed documents' spellings of existing RPCs (additional_bindings, docs/gateway.md). They are
# called as the seeds show them by tests/e2e/test_seed_urls.py, so the route walk of
# test_gateway_routes.py leaves them to it.
SEED_ROUTES = frozenset(
    {
        ("POST", "/api/orders"),
        ("GET", "/api/orders"),
        ("GET", "/api/orders/{order_id}"),
        ("PUT", "/orders/{order_id}/update_status"),
        ("PUT", "/api/orders/{order_id}/status"),
        ("POST", "/orders/{order_id}/cancel"),
        ("GET", "/api/notifications"),
        ("GET", "/api/products"),
        ("GET", "/api/products/{product_id}"),
        ("POST", "/api/inventory/check"),
    }
)


@dataclass
class Stack:
    """The running mesh, its gateway, the SMTP server notify mails, and HTTP helpers."""

    mesh: Mesh
    gateway: GatewayProcess
    smtp: SmtpServer
    http: httpx.AsyncClient

    def service(self, name: str) -> ServiceProcess:
        return self.mesh.services[name]

    def headers(self, subject: str = "admin-1", *roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.mesh.token(subject, *roles)}"}

    @property
    def admin(self) -> dict[str, str]:
        return self.headers()

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Any = None,
        expect: int | None = 200,
    ) -> httpx.Response:
        """One request (as admin unless ``headers`` says otherwise); checks the status when given."""
        reply = await self.http.request(
            method,
            path,
            json=body,
            params=params,
            headers=dict(self.admin if headers is None else headers),
        )
        if expect is not None:
            assert reply.status_code == expect, f"{method} {path} → {reply.status_code}: {reply.text}"
        return reply

    async def product(self, *, stock: int = 0, price_cents: int = 1250) -> str:
        product_id = unique("p")
        units, cents = divmod(price_cents, 100)
        price = {"currencyCode": "EUR", "units": str(units), "nanos": cents * 10_000_000}
        await self.call(
            "POST", "/products", body={"productId": product_id, "name": "Widget", "price": price, "active": True}
        )
        if stock:
            await self.call("POST", "/api/inventory/add", body={"productId": product_id, "quantity": str(stock)})
        return product_id

    async def customer(self) -> str:
        customer_id = unique("c")
        body = {"customerId": customer_id, "name": "Ada Lovelace", "email": f"{customer_id}@example.com"}
        await self.call("POST", "/customers", body=body)
        return customer_id

    async def place(self, customer_id: str, product_id: str, quantity: int = 1, **kwargs: Any) -> dict[str, Any]:
        body = {"customerId": customer_id, "items": [{"productId": product_id, "quantity": quantity}]}
        reply = await self.call("POST", "/orders", body=body, **kwargs)
        order: dict[str, Any] = reply.json()["order"]
        return order

    async def order(self, order_id: str) -> dict[str, Any]:
        order: dict[str, Any] = (await self.call("GET", f"/orders/{order_id}")).json()["order"]
        return order


async def start_services(
    mesh: Mesh,
    smtp: SmtpServer,
    *,
    order_env: Mapping[str, str] | None = None,
    gateway_env: Mapping[str, str] | None = None,
    notify_env: Mapping[str, str] | None = None,
) -> GatewayProcess:
    """inventory → orders and notify → gateway (started and healthy), on ``mesh``'s databases and topics."""
    inventory = await mesh.add("inventory")
    order = await mesh.add("order", extra_env={"OMS_ORDER_INVENTORY_ADDR": inventory.address} | dict(order_env or {}))
    notify = await mesh.add(
        "notify",
        extra_env={
            "OMS_NOTIFY_SMTP_HOST": "127.0.0.1",
            "OMS_NOTIFY_SMTP_PORT": str(smtp.port),
            "OMS_NOTIFY_SMTP_TIMEOUT_S": "2",
            "OMS_NOTIFY_RETRY_BASE_S": "0.2",
            "OMS_NOTIFY_RETRY_MAX_S": "1",
            "OMS_NOTIFY_DISPATCH_POLL_S": "0.2",
            "OMS_NOTIFY_CLAIM_LEASE_S": "5",
        }
        | dict(notify_env or {}),
    )
    await inventory.start()
    await asyncio.gather(order.start(), notify.start())
    port = free_port()
    env = (
        mesh.base_env()
        | {
            "OMS_GATEWAY_PORT": str(port),
            "OMS_GATEWAY_ORDER_ADDR": order.address,
            "OMS_GATEWAY_INVENTORY_ADDR": inventory.address,
            "OMS_GATEWAY_NOTIFY_ADDR": notify.address,
            "OMS_GATEWAY_LOG_LEVEL": "warning",
        }
        | _gateway_tls_env(mesh)
        | dict(gateway_env or {})
    )
    ca_file = mesh.tls_dir / "ca.pem" if mesh.tls_dir else None
    gateway = GatewayProcess(port, env, mesh.workdir / "gateway.log", ca_file=ca_file)
    await gateway.start()
    return gateway


def _gateway_tls_env(mesh: Mesh) -> dict[str, str]:
    """With TLS on: mTLS to the services with the gateway's certificate, HTTPS with the same one."""
    if mesh.tls_dir is None:
        return {}
    return mesh.tls_env("gateway") | {
        "OMS_GATEWAY_TLS_CERT_FILE": str(mesh.tls_dir / "gateway.pem"),
        "OMS_GATEWAY_TLS_KEY_FILE": str(mesh.tls_dir / "gateway-key.pem"),
    }


@contextlib.asynccontextmanager
async def running_stack(
    mesh: Mesh,
    *,
    order_env: Mapping[str, str] | None = None,
    gateway_env: Mapping[str, str] | None = None,
    notify_env: Mapping[str, str] | None = None,
) -> AsyncIterator[Stack]:
    """The stack on ``mesh``; the gateway, the SMTP server and the client are stopped at the end
    (the services are stopped with ``mesh``)."""
    smtp = SmtpServer()
    smtp.start()
    gateway: GatewayProcess | None = None
    try:
        gateway = await start_services(mesh, smtp, order_env=order_env, gateway_env=gateway_env, notify_env=notify_env)
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30.0, verify=gateway.verify) as http:
            yield Stack(mesh, gateway, smtp, http)
    finally:
        if gateway is not None:
            await gateway.stop()
        smtp.stop()


def status_body(reply: httpx.Response) -> dict[str, Any]:
    """The ``google.rpc.Status`` JSON of an error reply, checked for its shape."""
    assert reply.headers["content-type"].startswith("application/json"), reply.headers
    body: dict[str, Any] = reply.json()
    assert isinstance(body.get("code"), int) and isinstance(body.get("message"), str), body
    assert isinstance(body.get("details", []), list), body
    return body


def details_of(body: Mapping[str, Any], type_name: str) -> list[dict[str, Any]]:
    """The details of one ``@type`` (``google.rpc.PreconditionFailure``) in a Status JSON."""
    wanted = f"type.googleapis.com/{type_name}"
    return [d for d in body.get("details", []) if d.get("@type") == wanted]


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """(event name, parsed data) of a ``text/event-stream`` reply; comments are skipped."""
    event, data = "message", list[str]()
    async for line in response.aiter_lines():
        if line.startswith(":"):
            continue
        if line == "":
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", list[str]()
        elif line.startswith("event:"):
            event = line[len("event:") :].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:") :].lstrip())
