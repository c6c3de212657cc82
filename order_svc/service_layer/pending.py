"""Orders stuck in PENDING: the oldest one's age as a metric, and an incident per overdue order.

An order leaves PENDING when inventory's reservation outcome arrives. One that stays PENDING
much longer than a saga hop takes means the saga is stuck for it (its OrderPlaced dead-lettered,
inventory down, a relay parked its event): an operator must look. Each overdue order is logged
once per process as an ERROR incident, not on every tick.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from order_svc.service_layer.ports import Dependencies

log = logging.getLogger(__name__)
# Overdue orders looked at per tick, oldest first; later ones are reported on later ticks.
BATCH = 100


@dataclass
class PendingWatch:
    deps: Dependencies
    incident_after_s: float
    _reported: set[str] = field(default_factory=set)

    async def check(self, now: datetime) -> list[str]:
        """Updates the gauge; logs and returns the ids of orders newly found overdue."""
        async with self.deps.uow() as uow:
            oldest = await uow.orders.oldest_pending(limit=BATCH)
        self.deps.metrics.oldest_pending_age(max((now - oldest[0][1]).total_seconds(), 0.0) if oldest else 0.0)
        overdue = {order_id: now - created for order_id, created in oldest}
        overdue = {k: age for k, age in overdue.items() if age.total_seconds() >= self.incident_after_s}
        new = [order_id for order_id in overdue if order_id not in self._reported]
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
        # Forget the ones that left PENDING (or fell out of the batch), so memory stays bounded.
        self._reported = set(overdue)
        return new
