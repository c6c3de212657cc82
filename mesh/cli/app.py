"""The ``oms`` parser and dispatch: one subcommand group per module, each leaf names its
``run(args) -> exit status``; expected failures are one message on stderr, never a traceback."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from mesh.cli import dead_letters, notifications, orders, outbox, products, stock, token, topics
from mesh.cli.errors import INTERRUPTED, CliError

GROUPS = (orders, stock, products, notifications, topics, dead_letters, outbox, token)

EPILOG = """\
Each command has its own --help (e.g. `oms orders list --help`). gRPC commands take --target,
--token (default $OMS_TOKEN, else an admin token minted from OMS_AUTH_*), --timeout and --json.
Exit status: 0 done, 1 a call failed or something was not done, 2 a usage error, 130 Ctrl-C.
See docs/operations.md, "The operator's CLI"."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oms",
        description="The OMS mesh operator's CLI: orders, stock, products, notifications, dead letters, "
        "parked outbox events, Kafka topics, tokens.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except CliError as exc:
        sys.stderr.write(f"oms {args.command}: {exc}\n")
        return exc.status
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:
        # `oms orders list | head`: the reader left, nothing more to say; the interpreter's last
        # flush at exit must not fail on the closed pipe either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
