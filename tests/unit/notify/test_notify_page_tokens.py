"""Page tokens: opaque, round-trip, bound to their filters."""

from __future__ import annotations

import pytest

from mesh.errors import InvalidArgument
from notify_svc.entrypoints import page_tokens
from notify_svc.service_layer.ports import Cursor
from tests.unit.notify.fakes import T0

CURSOR = Cursor(T0, "00000000-0000-4000-8000-000000000001")


def test_round_trip() -> None:
    token = page_tokens.encode(CURSOR, "order_id=a")
    assert page_tokens.decode(token, "order_id=a") == CURSOR
    assert "00000000" not in token  # opaque, not a readable id


def test_empty_token_is_the_first_page() -> None:
    assert page_tokens.decode("", "x") is None


def test_a_token_for_other_filters_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="page_token"):
        page_tokens.decode(page_tokens.encode(CURSOR, "order_id=a"), "order_id=b")


@pytest.mark.parametrize("garbage", ["x", "!!!", "eyJ0IjoxfQ", "bm90IGpzb24"])
def test_garbage_is_invalid_argument(garbage: str) -> None:
    with pytest.raises(InvalidArgument, match="page_token"):
        page_tokens.decode(garbage, "")
