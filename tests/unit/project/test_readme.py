"""The README is the front door: its configuration table must match the code."""

from __future__ import annotations

from pathlib import Path

from mesh.settings.doc import markdown

README = Path(__file__).resolve().parents[3] / "README.md"
START, END = "<!-- settings-table:start -->\n", "<!-- settings-table:end -->"


def test_readme_configuration_table_is_generated_from_the_settings() -> None:
    text = README.read_text()
    table = text.split(START, 1)[1].split(END, 1)[0]
    assert table == markdown(), "README's configuration table is stale: run scripts/update-readme"


def test_readme_shows_the_two_commands() -> None:
    text = README.read_text()
    assert "make run" in text and "make test" in text
