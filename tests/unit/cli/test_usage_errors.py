"""The ``oms dlq`` and ``oms outbox`` commands refuse bad usage before calling anything."""

from __future__ import annotations

import pytest

from mesh.cli import main

# Nothing listens here: a command that got as far as calling would fail with exit status 1.
NOWHERE = ["--target", "127.0.0.1:9", "--token", "t", "--timeout", "1"]


@pytest.mark.parametrize(
    "argv",
    [
        ["dlq", "show", "orders.dlq/zero/1"],
        ["dlq", "show", "orders.dlq"],
        ["dlq", "replay"],
        ["dlq", "replay", "orders.dlq/0/1", "--all"],
        ["outbox", "republish"],
        ["outbox", "republish", "3", "--all"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, *NOWHERE]) == 2
    assert capsys.readouterr().err.startswith(f"oms {argv[0]}: ")


def test_an_unreachable_service_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dlq", "list", "--service", "inventory", *NOWHERE]) == 1
    err = capsys.readouterr().err
    assert err.startswith("oms dlq: ") and "127.0.0.1:9" in err and err.count("\n") == 1
