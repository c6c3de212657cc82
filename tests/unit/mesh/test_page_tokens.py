"""mesh.storage.paging's page tokens: valid ones round-trip, every edit and every misuse is refused."""

from __future__ import annotations

import base64
import json
import string
from datetime import UTC, datetime

import pytest

from mesh.serving.errors import InvalidArgument
from mesh.settings.common import SettingsError, load
from mesh.storage.paging import DEV_PAGE_TOKEN_KEY, PageTokens, PageTokenSettings, load_page_token_settings

TOKENS = PageTokens(b"k" * 32)
WHEN = datetime(2026, 11, 30, 12, 34, 56, 789000, tzinfo=UTC)
SHAPE = (datetime, str)
FILTERS: dict[str, str | int] = {"customer_id": "c-1", "status": 3}
TOKEN = TOKENS.encode("orders", [WHEN, "o-1"], filters=FILTERS)
ALPHABET = string.ascii_letters + string.digits + "-_"


def refused(token: str, *, kind: str = "orders", shape: tuple[type, ...] = SHAPE, filters: object = FILTERS) -> str:
    with pytest.raises(InvalidArgument) as raised:
        TOKENS.decode(kind, token, shape, filters=filters)  # type: ignore[arg-type]
    [violation] = raised.value.violations
    assert violation.field == "page_token"
    return violation.description


def test_a_valid_token_round_trips() -> None:
    assert TOKENS.decode("orders", TOKEN, SHAPE, filters=FILTERS) == (WHEN, "o-1")
    assert TOKENS.decode("customers", TOKENS.encode("customers", ["c-9"]), (str,)) == ("c-9",)
    assert TOKENS.decode("n", TOKENS.encode("n", [-(2**63), 2**63 - 1]), (int, int)) == (-(2**63), 2**63 - 1)


def test_an_empty_token_is_the_first_page() -> None:
    assert TOKENS.decode("orders", "", SHAPE, filters=FILTERS) is None


def test_tokens_are_url_safe() -> None:
    assert set(TOKEN) <= set(ALPHABET)


def test_changing_any_character_of_a_real_token_is_refused() -> None:
    # Every position, every other character of the alphabet: includes the last character's
    # unused bits, which a lax base64 decoder would silently ignore.
    for index, original in enumerate(TOKEN):
        for replacement in ALPHABET:
            if replacement != original:
                refused(TOKEN[:index] + replacement + TOKEN[index + 1 :])


def test_flipping_any_bit_of_the_decoded_bytes_is_refused() -> None:
    raw = base64.urlsafe_b64decode(TOKEN + "=" * (-len(TOKEN) % 4))
    for index in range(len(raw)):
        for bit in range(8):
            changed = bytearray(raw)
            changed[index] ^= 1 << bit
            refused(base64.urlsafe_b64encode(bytes(changed)).decode().rstrip("="))


def test_truncated_extended_and_padded_tokens_are_refused() -> None:
    for length in range(len(TOKEN)):
        refused(TOKEN[:length] or "x")
    for suffix in ("A", "AA", "=", "==", " ", "\n", "!", "\x00"):
        refused(TOKEN + suffix)
    refused(" " + TOKEN)
    refused("A" * 100_000)  # refused without decoding megabytes


def test_a_token_signed_with_another_key_is_refused() -> None:
    other = PageTokens(b"x" * 32).encode("orders", [WHEN, "o-1"], filters=FILTERS)
    refused(other)


def test_a_token_of_another_listing_or_other_filters_is_refused() -> None:
    refused(TOKEN, kind="customers")
    refused(TOKEN, filters={"customer_id": "c-2", "status": 3})
    refused(TOKEN, filters={"customer_id": "c-1", "status": 4})
    refused(TOKEN, filters={"customer_id": "c-1"})
    refused(TOKEN, filters={})
    # The filters' order does not matter; their values do.
    assert TOKENS.decode("orders", TOKEN, SHAPE, filters={"status": 3, "customer_id": "c-1"}) == (WHEN, "o-1")


def test_forged_unsigned_tokens_of_the_old_format_are_refused() -> None:
    for position in (["2026-01-01T00:00:00+00:00", "o-1"], [1, 2], [], "x", None):
        raw = json.dumps({"k": "orders", "p": position}).encode()
        refused(base64.urlsafe_b64encode(raw).decode().rstrip("="))


@pytest.mark.parametrize(
    "position",
    [
        [1, "o-1"],  # an integer where a time belongs
        ["yesterday", "o-1"],
        ["2026-01-01T00:00:00", "o-1"],  # a time without an offset
        ["2026-01-01T00:00:00+00:00", 7],
        ["2026-01-01T00:00:00+00:00", None],
        ["2026-01-01T00:00:00+00:00", ["o-1"]],
        ["2026-01-01T00:00:00+00:00", "o" * 10_000],
        ["2026-01-01T00:00:00+00:00"],
        ["2026-01-01T00:00:00+00:00", "o-1", "extra"],
        [True, "o-1"],
    ],
)
def test_a_correctly_signed_position_of_the_wrong_shape_is_refused(position: list[object]) -> None:
    # Only someone holding the key can sign these: a leaked key or an older release's token.
    # They must still never reach a query (IndexError, TypeError, "text < integer").
    signed = TOKENS.encode("orders", position, filters=FILTERS)  # type: ignore[arg-type]
    refused(signed)


def test_integers_are_checked_for_type_and_range() -> None:
    for value in (True, 2**63, -(2**63) - 1, "1", 1.5):
        refused(TOKENS.encode("n", [value]), kind="n", shape=(int,), filters=None)  # type: ignore[list-item]


def test_the_key_comes_from_settings_and_must_be_long(monkeypatch: pytest.MonkeyPatch) -> None:
    assert PageTokenSettings().uses_dev_key
    assert PageTokenSettings().key.get_secret_value() == DEV_PAGE_TOKEN_KEY
    monkeypatch.setenv("OMS_PAGE_TOKEN_KEY", "s" * 40)
    settings = load(PageTokenSettings)
    assert not settings.uses_dev_key
    from_settings = PageTokens.from_settings(settings)
    assert from_settings.decode("c", PageTokens(b"s" * 40).encode("c", ["x"]), (str,)) == ("x",)
    monkeypatch.setenv("OMS_PAGE_TOKEN_KEY", "short")
    with pytest.raises(SettingsError, match="OMS_PAGE_TOKEN_KEY"):
        load(PageTokenSettings)
    with pytest.raises(ValueError):
        PageTokens(b"short")


def test_the_public_development_key_is_refused_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMS_PAGE_TOKEN_KEY", raising=False)
    for env in ("production", "staging", ""):
        monkeypatch.setenv("OMS_ENV", env)
        with pytest.raises(SettingsError, match="OMS_PAGE_TOKEN_KEY is the public development key"):
            load_page_token_settings()
    monkeypatch.delenv("OMS_ENV")
    with pytest.raises(SettingsError):
        load_page_token_settings()  # no OMS_ENV is not development
    monkeypatch.setenv("OMS_ENV", " Development ")
    assert load_page_token_settings().uses_dev_key
    monkeypatch.setenv("OMS_ENV", "production")
    monkeypatch.setenv("OMS_PAGE_TOKEN_KEY", "a-real-key-of-our-own-0123456789abcdef")
    assert not load_page_token_settings().uses_dev_key
