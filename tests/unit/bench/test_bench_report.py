"""The bench report: percentiles, tables and the machine-written sections of docs/benchmarks.md."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench.ghz import parse_report
from bench.report import end_marker, num, replace_section, start_marker, table, update_document
from bench.stats import Latency, percentile


def test_nearest_rank_percentiles() -> None:
    samples = [float(v) for v in range(1, 101)]
    assert percentile(samples, 50) == 50
    assert percentile(samples, 99) == 99
    assert percentile(samples, 100) == 100
    assert percentile(samples, 0) == 1
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile(samples, 101)


def test_latency_summary_is_in_milliseconds() -> None:
    lat = Latency.of_seconds([0.002, 0.001, 0.003])
    assert (lat.count, lat.p50, lat.max) == (3, 2.0, 3.0)
    assert math.isnan(Latency.of_seconds([]).p50)


def test_section_replaced_in_place_and_the_rest_kept() -> None:
    doc = f"# Intro\nhand-written\n\n{start_marker('saga')}\nold\n{end_marker('saga')}\n\ntrailer\n"
    new = replace_section(doc, "saga", "new table")
    assert new == f"# Intro\nhand-written\n\n{start_marker('saga')}\nnew table\n{end_marker('saga')}\n\ntrailer\n"


def test_missing_section_is_appended() -> None:
    new = replace_section("# Intro\n", "placeorder", "body")
    assert new == f"# Intro\n\n{start_marker('placeorder')}\nbody\n{end_marker('placeorder')}\n"


def test_duplicated_section_is_refused() -> None:
    block = f"{start_marker('saga')}\nx\n{end_marker('saga')}\n"
    with pytest.raises(ValueError):
        replace_section(block + block, "saga", "y")


def test_body_with_regex_specials_is_inserted_verbatim() -> None:
    doc = f"{start_marker('saga')}\n{end_marker('saga')}"
    assert r"p50 \1 $x" in replace_section(doc, "saga", r"p50 \1 $x")


def test_update_keeps_sections_of_benchmarks_not_run(tmp_path: Path) -> None:
    path = tmp_path / "benchmarks.md"
    update_document(path, {"placeorder": "A1", "saga": "B1"}, intro="# Benchmarks\nintro")
    update_document(path, {"saga": "B2"}, intro="ignored: the file exists")
    text = path.read_text()
    assert text.startswith("# Benchmarks\nintro\n")
    assert "A1" in text and "B2" in text and "B1" not in text
    assert text.index("A1") < text.index("B2")


def test_table_and_numbers() -> None:
    assert num(1234.567) == "1,234.6"
    assert num(float("nan")) == "n/a"
    assert table(["a", "b"], [["x|y", 1.5]]) == "| a | b |\n|---|---|\n| x\\|y | 1.5 |"
    with pytest.raises(ValueError):
        table(["a", "b"], [["only one"]])


def test_ghz_report_counts_only_ok_calls_as_throughput() -> None:
    report = {
        "count": 1010,
        "total": 2_000_000_000,
        "fastest": 1_000_000,
        "slowest": 90_000_000,
        "average": 5_000_000,
        "statusCodeDistribution": {"OK": 1000, "Unavailable": 10},
        "errorDistribution": {"rpc error: code = Unavailable": 10},
        "latencyDistribution": [
            {"percentage": 50, "latency": 4_000_000},
            {"percentage": 95, "latency": 9_000_000},
            {"percentage": 99, "latency": 20_000_000},
        ],
    }
    result = parse_report("t", report)
    assert (result.ok, result.errors) == (1000, 10)
    assert result.rps_ok == 500.0
    assert (result.p50_ms, result.p95_ms, result.p99_ms, result.slowest_ms) == (4.0, 9.0, 20.0, 90.0)
