"""docs/benchmarks.md: a hand-written intro, then machine-written sections between markers.

Each benchmark owns one section, ``<!-- bench:NAME:start -->`` … ``<!-- bench:NAME:end -->``;
a run rewrites only the sections of the benchmarks it ran, so ``python -m bench saga`` keeps
the last ``placeorder`` results. Everything outside the markers is left as written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

SECTIONS = ("machine", "placeorder", "profile", "saga")


def start_marker(name: str) -> str:
    return f"<!-- bench:{name}:start -->"


def end_marker(name: str) -> str:
    return f"<!-- bench:{name}:end -->"


def replace_section(document: str, name: str, body: str) -> str:
    """``document`` with the section ``name`` holding ``body``; appended when not there yet."""
    start, end = start_marker(name), end_marker(name)
    block = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    found = pattern.findall(document)
    if len(found) > 1:
        raise ValueError(f"section {name!r} appears {len(found)} times")
    if found:
        return pattern.sub(lambda _m: block, document, count=1)
    return document.rstrip("\n") + "\n\n" + block + "\n"


def update_document(path: Path, sections: dict[str, str], *, intro: str) -> None:
    """Rewrites the given sections of ``path``, creating the file (with ``intro``) if missing."""
    document = path.read_text() if path.exists() else intro.rstrip("\n") + "\n"
    for name in SECTIONS:
        if name in sections:
            document = replace_section(document, name, sections[name])
    for name, body in sections.items():
        if name not in SECTIONS:
            document = replace_section(document, name, body)
    path.write_text(document)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table; numbers in the first column are left-aligned too."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row {row!r} has {len(row)} cells, expected {len(headers)}")
        lines.append("| " + " | ".join(cell(value) for value in row) + " |")
    return "\n".join(lines)


def cell(value: object) -> str:
    if isinstance(value, float):
        return num(value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def num(value: float, digits: int = 1) -> str:
    """1234.5 → "1,234.5"; NaN → "n/a" (nothing measured)."""
    if math.isnan(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def ratio(ours: float, baseline: float) -> float:
    if baseline == 0 or math.isnan(baseline) or math.isnan(ours):
        return math.nan
    return ours / baseline


def verdict(met: bool) -> str:
    return "**met**" if met else "**missed**"
