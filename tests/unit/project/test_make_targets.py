"""`make help` lists every target the README and docs/ tell you to run, and each one exists."""

from __future__ import annotations

import re
import subprocess

from testkit.infra import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# `make <target>` in inline code, or a shell line of a fenced block starting with `make`.
INLINE = re.compile(r"`make ([a-z0-9][a-z0-9-]*)")
LINE = re.compile(r"^\s*(?:\$ )?make ([a-z0-9][a-z0-9-]*)", re.MULTILINE)


def targets_in_docs() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for doc in DOCS:
        text = doc.read_text()
        blocks = "\n".join(re.findall(r"```[a-z ]*\n(.*?)```", text, re.DOTALL))
        for target in {*INLINE.findall(text), *LINE.findall(blocks)}:
            found.setdefault(target, set()).add(doc.name)
    return found


def help_targets() -> set[str]:
    out = subprocess.run(["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([a-z0-9][a-z0-9-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))


def test_the_docs_name_targets_at_all() -> None:
    assert {"run", "test", "deps"} <= set(targets_in_docs())


def test_every_target_the_docs_mention_exists_and_make_help_lists_it() -> None:
    mentioned, listed, defined = targets_in_docs(), help_targets(), makefile_targets()
    assert {t: docs for t, docs in mentioned.items() if t not in defined} == {}, "docs name targets that do not exist"
    assert {t: docs for t, docs in mentioned.items() if t not in listed} == {}, "make help omits targets the docs name"


def test_make_help_lists_every_phony_target() -> None:
    phony = re.search(r"^\.PHONY:(.*?)(?<!\\)$", (ROOT / "Makefile").read_text(), re.MULTILINE | re.DOTALL)
    assert phony is not None
    declared = set(phony.group(1).replace("\\", " ").split())
    assert declared - help_targets() == set()
