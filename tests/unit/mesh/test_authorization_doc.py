"""docs/authorization.md's table is generated from the RPCs' declared rules and must be current."""

from __future__ import annotations

from pathlib import Path

from mesh.auth.authorization import rules
from mesh.auth.authorization_doc import END, START, markdown

DOC = Path(__file__).resolve().parents[3] / "docs" / "authorization.md"


def test_the_committed_table_is_generated_from_the_descriptors() -> None:
    table = DOC.read_text().split(START, 1)[1].split(END, 1)[0]
    assert table == markdown(), "docs/authorization.md is stale: run scripts/update-readme"


def test_the_table_lists_every_rpc_once() -> None:
    rows = [line for line in markdown().splitlines()[2:] if line.startswith("|")]
    assert len(rows) == len(rules())
    for path in rules():
        method = path.rsplit("/", 1)[1]
        assert sum(f"| `{method}` |" in row for row in rows) >= 1, path
