"""What a refused request could have written, read straight from the service databases.

A refused request must leave no trace: "nothing half-written". The footprint is the part of
each database only requests change (never the saga working in the background on earlier,
accepted orders), so it can be compared before and after every refused call while the mesh
keeps running:

- orders and order lines are only ever added by PlaceOrder (counted), and an order that has
  settled changes only by a request (the watched orders' rows are compared whole);
- customers and products are written only by requests: any committed write to one of their
  rows changes its ``xmin`` (cheap to compare, even for rows holding megabytes);
- stock: the saga moves ``reserved`` and, when an order ships, takes the shipped units off
  ``quantity`` and marks the reservation SHIPPED in the same transaction, so ``quantity`` plus
  the units of SHIPPED reservations changes only by AddStock and AuditStock;
- notifications that were sent change only when an admin retries one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import asyncpg
from sqlalchemy.engine import make_url

_ROWS = "count(*)::text || ':' || coalesce(md5(string_agg({row}, ',' ORDER BY {key})), '')"

_STOCK_ROW = "s.product_id || '=' || (s.quantity + coalesce(shipped.units, 0))"

ORDER_QUERIES = {
    "orders (count)": "SELECT count(*)::text FROM orders",
    "order_items (count)": "SELECT count(*)::text FROM order_items",
    "idempotency_keys (count)": "SELECT count(*)::text FROM idempotency_keys",
    "customers (rows written)": f"SELECT {_ROWS.format(row='xmin::text', key='customer_id')} FROM customers",
    "settled orders": f"SELECT {_ROWS.format(row='md5(o::text)', key='order_id')} FROM orders o "
    "WHERE order_id = ANY($1::text[])",
}
INVENTORY_QUERIES = {
    "products (rows written)": f"SELECT {_ROWS.format(row='xmin::text', key='product_id')} FROM products",
    "stock (quantity + shipped)": f"""
        SELECT {_ROWS.format(row=_STOCK_ROW, key="s.product_id")}
        FROM stock s LEFT JOIN (
            SELECT i.product_id, sum(i.quantity) AS units
            FROM reservation_items i JOIN reservations r USING (order_id)
            WHERE r.status = 'SHIPPED' GROUP BY i.product_id
        ) shipped USING (product_id)""",
}
NOTIFY_QUERIES = {
    "sent notifications": f"SELECT {_ROWS.format(row='md5(n::text)', key='notification_id')} FROM notifications n "
    "WHERE notification_id::text = ANY($1::text[])",
}


def asyncpg_url(sqlalchemy_url: str) -> str:
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class Footprint:
    """Open connections to the three service databases and the rows worth watching."""

    connections: Mapping[str, asyncpg.Connection]
    settled_orders: Sequence[str] = ()
    sent_notifications: Sequence[str] = ()

    @classmethod
    async def connect(cls, databases: Mapping[str, str]) -> Footprint:
        connections = {}
        for service in ("order_svc", "inventory_svc", "notify_svc"):
            connections[service] = await asyncpg.connect(asyncpg_url(databases[service]))
        return cls(connections)

    async def close(self) -> None:
        for connection in self.connections.values():
            await connection.close()

    async def take(self) -> dict[str, str]:
        taken: dict[str, str] = {}
        plan = [
            ("order_svc", ORDER_QUERIES, list(self.settled_orders)),
            ("inventory_svc", INVENTORY_QUERIES, None),
            ("notify_svc", NOTIFY_QUERIES, list(self.sent_notifications)),
        ]
        for service, queries, ids in plan:
            connection = self.connections[service]
            for name, sql in queries.items():
                args = [ids] if "$1" in sql else []
                taken[f"{service}: {name}"] = str(await connection.fetchval(sql, *args))
        return taken


def changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """What differs, one line per watched part (counts are shown, digests only named)."""
    return [
        f"{name}: {before[name][:24]} → {after.get(name, '?')[:24]}"
        for name in before
        if before[name] != after.get(name)
    ]
