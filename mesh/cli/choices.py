"""Protobuf enum values as an operator types and reads them: ``paid`` for ``ORDER_STATUS_PAID``."""

from __future__ import annotations

import argparse
from typing import Any


class EnumChoice:
    """An argparse ``type=`` for one enum (``paid``, ``PAID`` and ``ORDER_STATUS_PAID`` are all
    accepted; UNSPECIFIED is not a choice), and the short label it prints."""

    def __init__(self, enum: Any, prefix: str) -> None:
        self._enum = enum
        self._prefix = prefix
        self.names = [self.label(value).lower() for value in enum.values() if value != 0]
        # argparse names the type in its "invalid <type> value" message.
        self.__name__ = prefix.rstrip("_").lower()

    def __call__(self, text: str) -> int:
        name = text.strip().upper()
        if not name.startswith(self._prefix):
            name = self._prefix + name
        if name not in self._enum.keys() or self._enum.Value(name) == 0:  # noqa: SIM118 (an enum wrapper, not a dict)
            raise argparse.ArgumentTypeError(f"{text[:100]!r} is not one of {', '.join(self.names)}")
        return int(self._enum.Value(name))

    def label(self, value: int) -> str:
        """``ORDER_STATUS_PAID`` → ``PAID`` (a value newer than this CLI prints as its number)."""
        try:
            return str(self._enum.Name(value)).removeprefix(self._prefix)
        except ValueError:
            return str(value)
