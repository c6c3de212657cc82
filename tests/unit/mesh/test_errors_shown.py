from __future__ import annotations

from mesh.serving.errors import SHOWN_CHARS, InvalidArgument, shown
from mesh.values.violations import FieldViolation


def test_short_values_are_quoted_whole_and_long_ones_cut_with_their_length() -> None:
    assert shown("o-1") == "'o-1'"
    assert shown("/a", quoted=False) == "/a"
    long = shown("x" * 10_000)
    assert long.startswith("'xxx") and long.endswith("…(10002 chars)")
    assert len(long) < SHOWN_CHARS + 20


def test_an_invalid_argument_message_lists_a_few_violations_and_counts_the_rest() -> None:
    error = InvalidArgument([FieldViolation(f"items[{i}].quantity", "must be within 1..1000") for i in range(100)])
    assert error.message.endswith("; and 95 more")
    assert len(error.message) < 300
    assert len(error.violations) == 100
