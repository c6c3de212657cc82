"""How a command fails: a message on stderr and an exit status, never a traceback."""

from __future__ import annotations

# Exit statuses: 1 a call failed (or something was not done), 2 a usage error, 130 Ctrl-C.
FAILED = 1
USAGE = 2
INTERRUPTED = 130


class CliError(Exception):
    """Ends the command with this message on stderr and ``status`` (1; 2 for usage errors)."""

    def __init__(self, message: str, *, status: int = FAILED) -> None:
        super().__init__(message)
        self.status = status
