"""Which addresses are worth handing to the mail server."""

from __future__ import annotations

import pytest

from mesh.values.email_address import email_problem


@pytest.mark.parametrize(
    "address",
    ["ada@example.com", "a.b+tag@mail.example.co.uk", "o'hara@example.ie", "x@a-b.example", "UPPER@EXAMPLE.COM"],
)
def test_plausible_addresses_pass(address: str) -> None:
    assert email_problem(address) is None


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("", "no email address"),
        ("ada", "not of the form local@domain"),
        ("ada@", "not of the form local@domain"),
        ("@example.com", "not of the form local@domain"),
        ("ada@localhost", "invalid domain"),
        ("ada@-example.com", "invalid domain"),
        ("ada@example..com", "invalid domain"),
        ("ada lovelace@example.com", "contains whitespace or control characters"),
        ("ada@example.com\r\nBcc: all@example.com", "contains whitespace or control characters"),
        (".ada@example.com", "invalid local part"),
        ("a..da@example.com", "invalid local part"),
        ("a(da)@example.com", "invalid local part"),
        ("a" * 65 + "@example.com", "local part longer than 64 characters"),
        ("a@" + "b" * 250 + ".com", "longer than 254 characters"),
    ],
)
def test_impossible_addresses_are_named(address: str, problem: str) -> None:
    assert email_problem(address) == problem
