"""What the commands print: aligned tables for people, JSON for scripts, and the cell formats."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, TextIO

from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from google.type.money_pb2 import Money

# Cells longer than this are cut in tables (``--json`` always has the whole text).
CELL_WIDTH = 60


def to_dict(message: Message) -> dict[str, Any]:
    """A message as the protobuf JSON mapping, with proto field names and every scalar field
    (a stock of 0 prints 0 instead of disappearing)."""
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def print_json(value: object, out: TextIO | None = None) -> None:
    (out or sys.stdout).write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def print_json_line(value: object, out: TextIO | None = None) -> None:
    """One JSON document per line: what a stream (``orders watch --json``) prints per update."""
    stream = out or sys.stdout
    stream.write(json.dumps(value, ensure_ascii=False) + "\n")
    stream.flush()


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart, no trailing blanks."""
    lines = [list(header), *(list(row) for row in rows)]
    widths = [max(len(cell) for cell in column) for column in zip(*lines, strict=True)]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() + "\n" for line in lines
    )


def print_table(header: Sequence[str], rows: Iterable[Sequence[str]], out: TextIO | None = None) -> None:
    (out or sys.stdout).write(table(header, rows))


def print_fields(pairs: Sequence[tuple[str, str]], out: TextIO | None = None) -> None:
    """``name  value`` lines, the names aligned: one record shown in full."""
    width = max((len(name) for name, _ in pairs), default=0)
    (out or sys.stdout).write("".join(f"{name:<{width}}  {value}".rstrip() + "\n" for name, value in pairs))


def when(message: Message, field: str) -> str:
    """A Timestamp field as ``YYYY-MM-DD HH:MM:SS`` (UTC); empty when it is not set."""
    if not message.HasField(field):
        return ""
    stamp: Timestamp = getattr(message, field)
    return stamp.ToDatetime().strftime("%Y-%m-%d %H:%M:%S")


def money(amount: Money) -> str:
    """``12.50 EUR``: units and nanos without float rounding; empty for no amount."""
    if not amount.currency_code and not amount.units and not amount.nanos:
        return ""
    value = Decimal(amount.units) + Decimal(amount.nanos).scaleb(-9)
    # Cents when the amount has no finer part (it nearly always has none), else every digit.
    shown = value.quantize(Decimal("0.01")) if value == value.quantize(Decimal("0.01")) else value.normalize()
    return f"{shown} {amount.currency_code}".strip()


def short(text: str, width: int = CELL_WIDTH) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
