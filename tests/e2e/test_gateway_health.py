"""``GET /healthz`` follows the real upstreams: a killed inventory is a fast 503 naming it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from testkit.infra import Infra
from testkit.processes import new_mesh
from testkit.wait import eventually
from tests.e2e.gateway_support import running_stack, status_body

pytestmark = pytest.mark.e2e

FAST_S = 3.0


async def test_healthz_names_a_killed_upstream_fast_and_recovers(infra: Infra, tmp_path: Path) -> None:
    mesh = await new_mesh(infra, tmp_path)
    try:
        async with running_stack(mesh) as stack:
            healthy = await stack.call("GET", "/healthz", headers={})
            upstreams = healthy.json()["upstreams"]
            assert {name: u["status"] for name, u in upstreams.items()} == dict.fromkeys(
                ("order", "inventory", "notify", "payment"), "SERVING"
            )
            assert upstreams["inventory"]["address"] == stack.service("inventory").address

            await stack.service("inventory").kill()
            started = time.monotonic()
            down = await stack.call("GET", "/healthz", headers={}, expect=503)
            assert time.monotonic() - started < FAST_S
            document = down.json()
            assert document["status"] == "NOT_SERVING" and document["failing"] == ["inventory"]
            assert "inventory" in document["message"]
            assert document["upstreams"]["order"]["status"] == "SERVING"

            # A transcoded call to the dead upstream is a fast 503 too, not a hang to the deadline.
            started = time.monotonic()
            unavailable = await stack.call("GET", "/products", expect=503)
            assert time.monotonic() - started < FAST_S
            assert status_body(unavailable)["code"] == 14
            # Routes of the other upstreams keep working.
            await stack.call("GET", "/orders")

            await stack.service("inventory").start()
            await eventually(
                lambda: stack.call("GET", "/healthz", headers={}, expect=None),
                until=lambda reply: reply.status_code == 200,
                timeout_s=15,
                what="/healthz to be 200 again after inventory restarted",
            )
            await stack.call("GET", "/products")
    finally:
        await mesh.stop()
