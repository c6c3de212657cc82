"""The parser (every command has its help), the defaults it reads, and the cell formats."""

from __future__ import annotations

import argparse

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import ConfigSource  # type: ignore[attr-defined]
from google.type.money_pb2 import Money

from mesh.cli.app import build_parser, main
from mesh.cli.client import bearer, default_address, paged
from mesh.cli.errors import CliError
from mesh.cli.output import money, short, table
from mesh.cli.topics import Lag, PartitionOffsets, config_source, lags, selected

EXPECTED = {
    ("orders", "list"),
    ("orders", "show"),
    ("orders", "watch"),
    ("orders", "cancel"),
    ("orders", "set-status"),
    ("stock", "show"),
    ("stock", "add"),
    ("stock", "audit"),
    ("products", "list"),
    ("notifications", "list"),
    ("notifications", "retry"),
    ("topics", "list"),
    ("topics", "describe"),
    ("topics", "lag"),
    ("dlq", "list"),
    ("dlq", "show"),
    ("dlq", "replay"),
    ("outbox", "parked"),
    ("outbox", "republish"),
    ("token",),
}


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every leaf command of the parser, as the words that name it."""
    found = []
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        return [path]
    for name, child in groups[0].choices.items():
        found.extend(commands(child, (*path, name)))
    return found


def test_the_commands_are_the_ones_documented() -> None:
    assert set(commands(build_parser())) == EXPECTED


@pytest.mark.parametrize("words", [(), *sorted({p[:1] for p in EXPECTED}), *sorted(EXPECTED)], ids=" ".join)
def test_every_command_has_help(words: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*words, "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: oms {' '.join(words)}".rstrip())


def test_every_grpc_command_takes_the_connection_options() -> None:
    parser = build_parser()
    for words in EXPECTED - {("token",), ("topics", "list"), ("topics", "describe"), ("topics", "lag")}:
        extra = {"show": ["x"], "watch": ["x"], "cancel": ["x"], "set-status": ["x", "paid"], "retry": ["x"]}
        extra |= {"add": ["p", "1"], "audit": ["p", "1"]} if words[0] == "stock" else {}
        extra |= {"show": ["p"]} if words[0] == "stock" else {}
        extra |= {"show": ["t/0/1"]} if words[0] == "dlq" else {}
        args = parser.parse_args([*words, *extra.get(words[-1], []), "--target", "h:1", "--token", "t", "--json"])
        assert (args.target, args.token, args.json, args.timeout) == ("h:1", "t", True, 30.0), words


def test_a_missing_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["orders"], ["topics"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2


def test_addresses_default_to_the_make_run_ports() -> None:
    assert default_address("order", {}) == "127.0.0.1:50051"
    assert default_address("inventory", {}) == "127.0.0.1:50052"
    assert default_address("notify", {}) == "127.0.0.1:50053"
    assert default_address("order", {"OMS_ORDER_GRPC_PORT": "6001"}) == "127.0.0.1:6001"
    explicit = {"OMS_ORDER_GRPC_PORT": "6001", "OMS_CLI_ORDER_ADDR": "orders.internal:443"}
    assert default_address("order", explicit) == "orders.internal:443"


def test_the_flag_token_wins_over_the_environment() -> None:
    assert bearer("flag", {"OMS_TOKEN": "env"}) == "flag"
    assert bearer(None, {"OMS_TOKEN": " env\n"}) == "env"


def test_no_secret_to_mint_with_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMS_AUTH_JWT_SECRET", "")
    with pytest.raises(CliError) as failed:
        bearer(None, {})
    assert failed.value.status == 2


def test_paged_stops_at_the_limit_and_at_the_last_page() -> None:
    pages = {"": ([1, 2], "a"), "a": ([3, 4], "b"), "b": ([5], "")}
    asked: list[tuple[int, str]] = []

    def fetch(size: int, token: str) -> tuple[list[int], str]:
        asked.append((size, token))
        return pages[token]

    assert paged(fetch, None) == [1, 2, 3, 4, 5]
    asked.clear()
    assert paged(fetch, 3, page_max=100) == [1, 2, 3]
    assert asked == [(3, ""), (1, "a")]


def test_tables_align_columns_without_trailing_blanks() -> None:
    assert table(["A", "LONGER"], [["wide cell", "1"], ["x", ""]]) == ("A          LONGER\nwide cell  1\nx\n")
    assert table(["ONLY"], []) == "ONLY\n"


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Money(currency_code="EUR", units=12, nanos=500_000_000), "12.50 EUR"),
        (Money(currency_code="EUR", units=0, nanos=5_000_000), "0.005 EUR"),
        (Money(currency_code="USD", units=-3, nanos=-250_000_000), "-3.25 USD"),
        (Money(), ""),
    ],
)
def test_money_prints_without_float_rounding(amount: Money, text: str) -> None:
    assert money(amount) == text


def test_short_flattens_and_cuts() -> None:
    assert short("a\n  b", 10) == "a b"
    assert short("x" * 20, 5) == "xxxx…"


def test_topics_are_selected_by_prefix_without_the_brokers_own() -> None:
    names = ["__consumer_offsets", "t-1.orders", "t-1.orders.dlq", "t-2.orders", "orders"]
    assert selected(names, "t-1.") == ["t-1.orders", "t-1.orders.dlq"]
    assert selected(names, "") == ["orders", "t-1.orders", "t-1.orders.dlq", "t-2.orders"]
    assert "__consumer_offsets" in selected(names, "", internal=True)


def test_lag_counts_from_the_committed_offset_or_from_the_start() -> None:
    committed = {
        "inventory-svc": [TopicPartition("orders", 0, 7), TopicPartition("orders", 1, -1001)],
        "notify-svc": [TopicPartition("orders", 0, 10)],
    }
    offsets = {("orders", 0): PartitionOffsets("orders", 0, 0, 10), ("orders", 1): PartitionOffsets("orders", 1, 2, 6)}
    states = {"inventory-svc": "stable"}
    per_partition = lags(committed, offsets, states, per_partition=True)
    assert [(r.group, r.partition, r.committed, r.lag) for r in per_partition] == [
        ("inventory-svc", 0, 7, 3),
        ("inventory-svc", 1, 2, 4),  # nothing committed yet: everything still held is to read
        ("notify-svc", 0, 10, 0),
    ]
    assert lags(committed, offsets, states, per_partition=False) == [
        Lag("inventory-svc", "stable", "orders", None, 9, 16),
        Lag("notify-svc", "", "orders", None, 10, 10),
    ]


def test_oms_token_without_a_secret_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OMS_AUTH_JWT_SECRET", "")
    assert main(["token", "--sub", "a-1", "--role", "admin"]) == 2
    assert capsys.readouterr().err == "oms token: no OMS_AUTH_JWT_SECRET to sign a token with\n"


def test_a_topic_settings_source_is_named_for_an_operator() -> None:
    assert config_source(ConfigSource.DYNAMIC_TOPIC_CONFIG.value) == "topic"
    assert config_source(ConfigSource.STATIC_BROKER_CONFIG.value) == "broker"
    assert config_source(ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG) == "broker"
    assert config_source(ConfigSource.DEFAULT_CONFIG.value) == "default_config"
    assert config_source(99) == "99"
