"""A default named in a docs/ settings table is the code's default (README's table is generated
from the settings classes, see test_readme.py, so it is the reference here)."""

from __future__ import annotations

import re

from testkit.infra import ROOT

ROW = re.compile(r"^\| `(OMS_[A-Z0-9_]+)` \| ([^|]*) \|", re.MULTILINE)
SINGLE_VALUE = re.compile(r"^`([^`]*)`$")


def value(cell: str) -> str | None:
    """The comparable form of a cell holding one code value (``10`` and ``10.0``, ``true`` and
    ``True`` are the same); None for prose such as "unset" or "empty (CORS off)"."""
    found = SINGLE_VALUE.match(cell.strip())
    if found is None:
        return None
    text = found[1].lower()
    try:
        return repr(float(text))
    except ValueError:
        return text


def test_docs_defaults_are_the_settings_defaults() -> None:
    truth = {name: value(cell) for name, cell in ROW.findall((ROOT / "README.md").read_text())}
    assert len(truth) > 50
    wrong = {}
    for doc in sorted((ROOT / "docs").glob("*.md")):
        for name, cell in ROW.findall(doc.read_text()):
            documented = value(cell)
            if documented is not None and truth.get(name) not in (None, documented):
                wrong[f"{doc.name}: {name}"] = (cell.strip(), truth[name])
    assert wrong == {}, "docs name other defaults than the code (value in docs, in code)"
