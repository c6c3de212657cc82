"""Every command in README.md's and docs/' shell blocks can run as written on a fresh machine
after `make deps`: it starts with a program that is there (the project's own, by its path in the
checkout, since neither .venv/bin nor .oms/bin is on a newcomer's PATH), not a bare `python`,
`grpcurl` or `oms`. Blocks marked runnable are also run, by tests/e2e/test_runnable_docs.py."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from testkit.infra import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_BLOCK = re.compile(r"^```(?:sh|bash|shell|console)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
RUNNABLE = re.compile(r"^<!-- runnable -->\n```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
# What a fresh Debian machine with the README's prerequisites has on its PATH.
SYSTEM = {
    "make", "curl", "cat", "docker", "git", "openssl", "export", "cd", "python3", "npm", "go", "java", "mvn",
    "eval", "ls", "rm", "kill", "pgrep", "ss", "jq", "sudo", "apt-get", "echo", "tail", "grep", "less", "psql",
    "redis-cli", "true", "for", "do", "done", "while", "if", "then", "fi",
}  # fmt: skip
# Not on a fresh machine but the reader's own, and named as a prerequisite where the docs use it
# (docs/operations.md "Kubernetes": a cluster and its kubectl).
READERS_OWN = {"kubectl"}


def runnable_blocks(doc: Path) -> list[str]:
    return RUNNABLE.findall(doc.read_text())


def commands(block: str) -> list[str]:
    """The block's commands: continuation lines joined, comments and output lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", block)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line.startswith("$ "):
            line = line[2:]
        elif block.lstrip().startswith("$ "):
            continue  # a transcript: only the "$ " lines are commands
        if line and not line.startswith("#"):
            found.append(line)
    return found


def programs(command: str) -> list[str]:
    """The programs a command line runs: the first word of each pipeline stage (after VAR=...)."""
    command = command.replace("$(", " ; ").replace(")", " ")  # a command substitution runs a program too
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        words = command.split()
    starts, expect = [], True
    for word in words:
        if word in ("|", "||", "&&", ";"):
            expect = True
        elif expect and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", word):
            starts.append(word.lstrip("("))  # "(cd dir && …)": a subshell runs cd
            expect = False
    return starts


def runs_here(program: str) -> bool:
    if program in SYSTEM or program in READERS_OWN:
        return True
    if "/" in program and not program.startswith("/"):
        return (ROOT / program).exists() or program.startswith((".venv/", ".oms/", "node_modules/"))
    return False


def test_every_documented_command_starts_with_a_program_a_fresh_machine_has() -> None:
    wrong = {}
    for doc in DOCS:
        for block in SHELL_BLOCK.findall(doc.read_text()):
            for command in commands(block):
                missing = [p for p in programs(command) if not runs_here(p)]
                if missing:
                    wrong[f"{doc.name}: {command[:100]}"] = missing
    assert wrong == {}


def test_the_readme_has_a_runnable_block() -> None:
    assert runnable_blocks(ROOT / "README.md")
