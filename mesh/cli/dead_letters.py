"""``oms dlq list|show|replay``: a service's dead letters, through its OperationsService.

Each consuming service sees the dead letters its own consumer group wrote (docs/operations.md,
"Dead letters"), so the commands take ``--service``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from google.protobuf import json_format

from mesh.cli.client import Client, connection_options, paged, positive_int
from mesh.cli.errors import USAGE, CliError
from mesh.cli.output import print_fields, print_json, print_table, short, to_dict, when

# The refs `replay --all` sends per call (the RPC takes at most 100).
CHUNK = 100
# The RPC's largest page.
PAGE_MAX = 500


def register(commands: Any) -> None:
    dlq = commands.add_parser(
        "dlq", help="dead letters of a service's consumer", description="Dead letters of one service's consumer."
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    options = connection_options(None)
    listing = dlq.add_parser("list", parents=[options], help="list dead letters, oldest first")
    listing.add_argument("--original-topic", default="", help="only those that came from this topic")
    listing.add_argument("--limit", type=positive_int, default=50, help="at most this many (default 50)")
    listing.set_defaults(run=_list)
    show = dlq.add_parser("show", parents=[options], help="one dead letter, decoded, with every header")
    show.add_argument("ref", help="TOPIC/PARTITION/OFFSET as `dlq list` prints it")
    show.set_defaults(run=_show)
    replay = dlq.add_parser("replay", parents=[options], help="publish dead letters again on their topics")
    replay.add_argument("refs", nargs="*", help="TOPIC/PARTITION/OFFSET, several allowed")
    replay.add_argument("--all", action="store_true", help="every dead letter listed (with --original-topic)")
    replay.add_argument("--original-topic", default="", help="with --all: only those from this topic")
    replay.set_defaults(run=_replay)


def operations_stub(service: str) -> Any:
    """The service's OperationsService stub class (dead letters and parked outbox rows)."""
    from oms.inventory.v1 import operations_pb2_grpc as inventory_ops
    from oms.notify.v1 import operations_pb2_grpc as notify_ops
    from oms.order.v1 import operations_pb2_grpc as order_ops

    return {
        "order": order_ops.OrderOperationsServiceStub,
        "inventory": inventory_ops.InventoryOperationsServiceStub,
        "notify": notify_ops.NotifyOperationsServiceStub,
    }[service]


def _connect(args: argparse.Namespace) -> Client:
    _load_event_types()
    return Client.connect(args, args.service, operations_stub(args.service))


def _load_event_types() -> None:
    """Registers every event message, so decoded events (``Any``) print as JSON."""
    from oms.inventory.v1 import events_pb2 as _inventory_events  # noqa: F401
    from oms.order.v1 import events_pb2 as _order_events  # noqa: F401
    from oms.payment.v1 import events_pb2 as _payment_events  # noqa: F401


def _list(args: argparse.Namespace) -> int:
    with _connect(args) as client:
        letters = _all(client, args.original_topic, args.limit)
    if args.json:
        print_json({"dead_letters": [to_dict(d) for d in letters]})
        return 0
    rows = [_row(d) for d in letters]
    print_table(["REF", "TYPE", "KEY", "ATTEMPTS", "ERROR TYPE", "ERROR", "DEAD-LETTERED (UTC)"], rows)
    sys.stdout.write(f"{len(letters)} dead letter(s) on {client.target}\n")
    return 0


def _row(letter: Any) -> list[str]:
    return [
        ref_text(letter.ref),
        letter.event_type,
        letter.key,
        str(letter.attempts),
        letter.error_type,
        short(letter.error),
        when(letter, "dead_lettered_at"),
    ]


def _show(args: argparse.Namespace) -> int:
    from oms.ops.v1 import ops_pb2

    ref = parse_ref(args.ref)
    request = ops_pb2.GetDeadLetterRequest(topic=ref.topic, partition=ref.partition, offset=ref.offset)
    with _connect(args) as client:
        letter = client.call("GetDeadLetter", request).dead_letter
    if args.json:
        print_json(to_dict(letter))
        return 0
    fields = [
        ("ref", ref_text(letter.ref)),
        ("event id", letter.event_id),
        ("type", letter.event_type),
        ("key", letter.key),
        ("original", f"{letter.original_topic}/{letter.original_partition}/{letter.original_offset}"),
        ("consumer group", letter.consumer_group),
        ("attempts", str(letter.attempts)),
        ("error type", letter.error_type),
        ("error", letter.error),
        ("dead-lettered", when(letter, "dead_lettered_at")),
        ("size", f"{letter.size_bytes} bytes"),
    ]
    if letter.decode_error:
        fields.append(("decode error", letter.decode_error))
    print_fields(fields)
    sys.stdout.write("headers:\n")
    for name in sorted(letter.headers):
        sys.stdout.write(f"  {name}: {letter.headers[name]}\n")
    if letter.HasField("event"):
        sys.stdout.write("event:\n")
        sys.stdout.write(json.dumps(json_format.MessageToDict(letter.event), indent=2, ensure_ascii=False) + "\n")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from oms.ops.v1 import ops_pb2

    if args.all == bool(args.refs):
        raise CliError("name dead letters (TOPIC/PARTITION/OFFSET) or pass --all, not both", status=USAGE)
    refs = None if args.all else [parse_ref(text) for text in args.refs]
    results = []
    with _connect(args) as client:
        if refs is None:
            refs = [d.ref for d in _all(client, args.original_topic, None)]
        for start in range(0, len(refs), CHUNK):
            request = ops_pb2.ReplayDeadLettersRequest(dead_letters=refs[start : start + CHUNK])
            results.extend(client.call("ReplayDeadLetters", request).results)
    if args.json:
        print_json({"results": [to_dict(r) for r in results]})
    else:
        rows = [
            [ref_text(r.ref), "replayed" if r.replayed else "NOT replayed", r.original_topic, r.event_id, r.error]
            for r in results
        ]
        print_table(["REF", "RESULT", "TO TOPIC", "EVENT ID", "ERROR"], rows)
        sys.stdout.write(f"{sum(r.replayed for r in results)} of {len(results)} replayed\n")
    return 0 if all(r.replayed for r in results) else 1


def _all(client: Client, original_topic: str, limit: int | None) -> list[Any]:
    from oms.ops.v1 import ops_pb2

    def fetch(size: int, token: str) -> tuple[list[Any], str]:
        request = ops_pb2.ListDeadLettersRequest(page_size=size, page_token=token, original_topic=original_topic)
        page = client.call("ListDeadLetters", request)
        return list(page.dead_letters), page.next_page_token

    return paged(fetch, limit, page_max=PAGE_MAX)


def parse_ref(text: str) -> Any:
    """``TOPIC/PARTITION/OFFSET`` (the topic may hold no slash; Kafka names cannot)."""
    from oms.ops.v1 import ops_pb2

    topic, _, rest = text.partition("/")
    partition, _, offset = rest.partition("/")
    if not topic or not partition.isdigit() or not offset.isdigit():
        raise CliError(f"{text[:100]!r} is not TOPIC/PARTITION/OFFSET (e.g. orders.dlq/0/12)", status=USAGE)
    return ops_pb2.DeadLetterRef(topic=topic, partition=int(partition), offset=int(offset))


def ref_text(ref: Any) -> str:
    return f"{ref.topic}/{ref.partition}/{ref.offset}"
