"""Orders stuck in PENDING: the oldest one's age as a metric, and an incident per overdue order.

An order leaves PENDING when inventory's reservation outcome arrives. One that stays PENDING
much longer than a saga hop takes means the saga is stuck for it (its OrderPlaced dead-lettered,
inventory down, a relay parked its event): an operator must look. Each overdue order is logged
once as an ERROR incident, not on every tick, and by one replica only: every replica runs the
watch, and the order's incident is claimed in the database (``claim_incidents``) before it is
reported. The gauge is every replica's own reading of the same number (take the max).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from order_svc.service_layer.ports import Dependencies

log = logging.getLogger(__name__)
# Overdue orders looked at per tick, oldest first; later ones are reported on later ticks.
BATCH = 100


@dataclass
class PendingWatch:
    deps: Dependencies
    incident_after_s: float

    async def check(self, now: datetime) -> list[str]:
        """Updates the gauge; logs and returns the ids of the overdue orders this call claimed."""
        async with self.deps.uow() as uow:
            oldest = await uow.orders.oldest_pending(limit=BATCH)
            overdue = {order_id: now - created for order_id, created in oldest}
            overdue = {k: age for k, age in overdue.items() if age.total_seconds() >= self.incident_after_s}
            claimed = set(await uow.orders.claim_incidents(list(overdue)))
            await uow.commit()
        self.deps.metrics.oldest_pending_age(max((now - oldest[0][1]).total_seconds(), 0.0) if oldest else 0.0)
        # Reported after the claim committed: a claim rolled back must not leave a logged
        # incident that another replica then logs again.
        new = [order_id for order_id in overdue if order_id in claimed]
        for order_id in new:
            self.deps.metrics.pending_incident()
            log.error(
                "incident: order still PENDING past its deadline",
                extra={
                    "order_id": order_id,
                    "pending_s": round(overdue[order_id].total_seconds(), 1),
                    "deadline_s": self.incident_after_s,
                },
            )
        return new
