"""``oms outbox parked|republish``: outbox rows the relay set aside, through the service's
OperationsService."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mesh.cli.client import Client, connection_options, paged, positive_int
from mesh.cli.dead_letters import CHUNK, PAGE_MAX, operations_stub
from mesh.cli.errors import USAGE, CliError
from mesh.cli.output import print_json, print_table, short, to_dict, when


def register(commands: Any) -> None:
    outbox = commands.add_parser(
        "outbox", help="outbox rows the relay parked", description="Outbox rows the relay parked."
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    options = connection_options(None)
    parked = outbox.add_parser("parked", parents=[options], help="list parked outbox rows, oldest first")
    parked.add_argument("--limit", type=positive_int, default=50, help="at most this many (default 50)")
    parked.set_defaults(run=_parked)
    republish = outbox.add_parser("republish", parents=[options], help="hand parked rows back to the relay")
    republish.add_argument("ids", nargs="*", type=int, help="outbox ids as `outbox parked` prints them")
    republish.add_argument("--all", action="store_true", help="every parked row")
    republish.set_defaults(run=_republish)


def _parked(args: argparse.Namespace) -> int:
    with Client.connect(args, args.service, operations_stub(args.service)) as client:
        rows = _all(client, args.limit)
    if args.json:
        print_json({"parked_events": [to_dict(p) for p in rows]})
        return 0
    table = [
        [str(p.outbox_id), p.event_type, p.topic, p.key, str(p.size_bytes), when(p, "parked_at"), short(p.error)]
        for p in rows
    ]
    print_table(["ID", "TYPE", "TOPIC", "KEY", "BYTES", "PARKED (UTC)", "ERROR"], table)
    sys.stdout.write(f"{len(rows)} parked event(s) on {client.target}\n")
    return 0


def _republish(args: argparse.Namespace) -> int:
    from oms.ops.v1 import ops_pb2

    if args.all == bool(args.ids):
        raise CliError("name outbox ids or pass --all, not both", status=USAGE)
    done: list[int] = []
    with Client.connect(args, args.service, operations_stub(args.service)) as client:
        ids = [p.outbox_id for p in _all(client, None)] if args.all else list(args.ids)
        for start in range(0, len(ids), CHUNK):
            request = ops_pb2.RepublishParkedEventsRequest(outbox_ids=ids[start : start + CHUNK])
            done.extend(client.call("RepublishParkedEvents", request).outbox_ids)
    missing = sorted(set(ids) - set(done))
    if args.json:
        print_json({"republished": done, "not_parked": missing})
    else:
        sys.stdout.write(f"republished {len(done)} of {len(ids)}: {' '.join(map(str, done)) or '-'}\n")
        if missing:
            sys.stdout.write(f"not parked (left alone): {' '.join(map(str, missing))}\n")
    return 0 if not missing else 1


def _all(client: Client, limit: int | None) -> list[Any]:
    from oms.ops.v1 import ops_pb2

    def fetch(size: int, token: str) -> tuple[list[Any], str]:
        page = client.call("ListParkedEvents", ops_pb2.ListParkedEventsRequest(page_size=size, page_token=token))
        return list(page.parked_events), page.next_page_token

    return paged(fetch, limit, page_max=PAGE_MAX)
