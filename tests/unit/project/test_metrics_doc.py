"""docs/observability.md's metrics table names every metric family the code defines, and only those."""

from __future__ import annotations

import re

from testkit.infra import ROOT

PACKAGES = ("mesh", "gateway", "order_svc", "inventory_svc", "notify_svc", "payment_svc")
# A prometheus_client metric's name: the first argument of its constructor, possibly on the next line.
DEFINED = re.compile(r"\b(?:Counter|Gauge|Histogram|Summary|Info|Enum)\(\s*(?:name=)?\"(oms_[a-z0-9_]+)\"")
TABLE_ROW = re.compile(r"^\| (`oms_[^|]*) \|", re.MULTILINE)


def family(name: str) -> str:
    """prometheus_client appends ``_total`` to a counter's name; compare without it."""
    return name.removesuffix("_total")


def families_in_code() -> dict[str, str]:
    found: dict[str, str] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in DEFINED.findall(path.read_text()):
                found[family(name)] = str(path.relative_to(ROOT))
    return found


def families_in_table() -> set[str]:
    text = (ROOT / "docs" / "observability.md").read_text()
    table = text.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    return {family(n) for cell in TABLE_ROW.findall(table) for n in re.findall(r"`(oms_[a-z0-9_]+)`", cell)}


def test_the_code_defines_metrics_at_all() -> None:
    assert {"oms_grpc_requests", "oms_gateway_requests", "oms_orders_placed"} <= set(families_in_code())


def test_every_metric_family_in_the_code_is_in_the_docs_table() -> None:
    code, table = families_in_code(), families_in_table()
    assert {name: where for name, where in code.items() if name not in table} == {}


def test_the_docs_table_names_no_metric_the_code_lacks() -> None:
    assert families_in_table() - set(families_in_code()) == set()
