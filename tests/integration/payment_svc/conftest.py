"""Fixtures of the payment integration tests: payment_svc as a real process on a fresh database
and topics, with the simulated provider's ledger in a file the tests read (and can take down)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mesh.messaging.kafka import KafkaProducer
from testkit.infra import Infra
from testkit.processes import Mesh, ServiceProcess, new_mesh

pytestmark = pytest.mark.integration


@dataclass
class PaymentRun:
    mesh: Mesh
    service: ServiceProcess
    producer: KafkaProducer
    ledger: str

    @property
    def database_url(self) -> str:
        return self.mesh.databases["payment_svc"]

    def take_provider_down(self) -> None:
        Path(self.ledger + ".down").touch()

    def bring_provider_back(self) -> None:
        Path(self.ledger + ".down").unlink(missing_ok=True)


# Short retries and leases so the reconciler's work shows within a test's deadlines.
FAST = {
    "OMS_PAYMENT_RETRY_BASE_S": "0.2",
    "OMS_PAYMENT_RETRY_MAX_S": "1",
    "OMS_PAYMENT_CLAIM_LEASE_S": "2",
    "OMS_PAYMENT_RECONCILE_POLL_S": "0.2",
    "OMS_PAYMENT_PROVIDER_TIMEOUT_S": "3",
    "OMS_PAYMENT_SIMULATED_SLOW_S": "0.5",
}


@pytest.fixture
async def payment(infra: Infra, tmp_path: Path) -> AsyncIterator[PaymentRun]:
    """payment_svc added (not started) to a mesh of its own; ``run.service.start()`` starts it."""
    mesh = await new_mesh(infra, tmp_path)
    ledger = str(tmp_path / "provider-ledger.json")
    try:
        service = await mesh.add("payment", extra_env=FAST | {"OMS_PAYMENT_SIMULATED_LEDGER": ledger})
        async with KafkaProducer(mesh.kafka, client_id="payment-tests") as producer:
            yield PaymentRun(mesh, service, producer, ledger)
    finally:
        await mesh.stop()
