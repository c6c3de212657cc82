"""The ``oms`` command: small operator tools.

``oms token --sub c-1 --role customer [--ttl 3600]`` prints a bearer token signed with the
configured ``OMS_AUTH_*`` settings (HS256 with ``OMS_AUTH_JWT_SECRET``), for curl and tests.

``oms dlq list|show|replay`` and ``oms outbox parked|republish`` talk to one service's admin
RPCs (``--service order|inventory|notify|payment``, ``--target host:port``) over gRPC; see
docs/operations.md. They authenticate with ``--token``, else ``OMS_TOKEN``, else an admin
token minted from the ``OMS_AUTH_*`` settings, like ``oms token`` does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from mesh.auth.minting import mint_token
from mesh.auth.principal import ROLE_ADMIN, ROLE_CUSTOMER
from mesh.auth.settings import AuthSettings
from mesh.auth.tls import MeshTls, TlsSettings
from mesh.settings.common import SettingsError, load

SERVICES = ("order", "inventory", "notify", "payment")
# The services' default gRPC ports (the same as `make run`'s).
DEFAULT_TARGETS = {
    "order": "127.0.0.1:50051",
    "inventory": "127.0.0.1:50052",
    "notify": "127.0.0.1:50053",
    "payment": "127.0.0.1:50054",
}
# The ids `replay --all` and `republish --all` send per call (the RPCs take at most 100).
CHUNK = 100


class CliError(Exception):
    """Ends the command with this message on stderr and exit status 1 (2 for usage errors)."""

    def __init__(self, message: str, *, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oms", description="OMS mesh tools")
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="print a signed bearer token")
    token.add_argument("--sub", required=True, help="principal id (a customer's customer_id)")
    token.add_argument(
        "--role",
        action="append",
        default=[],
        choices=[ROLE_CUSTOMER, ROLE_ADMIN],
        help="role to grant; repeat for several",
    )
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")

    connection = argparse.ArgumentParser(add_help=False)
    connection.add_argument("--service", choices=SERVICES, default="order", help="whose tools (default order)")
    connection.add_argument("--target", help="the service's gRPC host:port (default: its `make run` port)")
    connection.add_argument("--token", help="bearer token (default: $OMS_TOKEN, else one minted as admin)")
    connection.add_argument("--timeout", type=float, default=30.0, help="seconds per call (default 30)")
    connection.add_argument("--json", action="store_true", help="print JSON instead of a table")

    dlq = commands.add_parser("dlq", help="dead letters of a service's consumer").add_subparsers(
        dest="action", required=True
    )
    listing = dlq.add_parser("list", parents=[connection], help="list dead letters, oldest first")
    listing.add_argument("--original-topic", default="", help="only those that came from this topic")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    show = dlq.add_parser("show", parents=[connection], help="one dead letter, decoded, with every header")
    show.add_argument("ref", help="TOPIC/PARTITION/OFFSET as `dlq list` prints it")
    replay = dlq.add_parser("replay", parents=[connection], help="publish dead letters again on their topics")
    replay.add_argument("refs", nargs="*", help="TOPIC/PARTITION/OFFSET, several allowed")
    replay.add_argument("--all", action="store_true", help="every dead letter listed (with --original-topic)")
    replay.add_argument("--original-topic", default="", help="with --all: only those from this topic")

    outbox = commands.add_parser("outbox", help="outbox rows the relay parked").add_subparsers(
        dest="action", required=True
    )
    parked = outbox.add_parser("parked", parents=[connection], help="list parked outbox rows, oldest first")
    parked.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    republish = outbox.add_parser("republish", parents=[connection], help="hand parked rows back to the relay")
    republish.add_argument("ids", nargs="*", type=int, help="outbox ids as `outbox parked` prints them")
    republish.add_argument("--all", action="store_true", help="every parked row")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "token":
            return _token(args)
        return _operate(args)
    except CliError as exc:
        sys.stderr.write(f"oms {args.command}: {exc}\n")
        return exc.status


def _token(args: argparse.Namespace) -> int:
    if args.ttl <= 0:
        raise CliError("--ttl must be positive", status=2)
    sys.stdout.write(mint_token(args.sub, args.role, _auth_settings(), ttl_s=args.ttl) + "\n")
    return 0


def _auth_settings() -> AuthSettings:
    try:
        return load(AuthSettings)
    except SettingsError as exc:
        raise CliError(str(exc), status=2) from exc


# -- the operator's tools ---------------------------------------------------------------------


class _Client:
    """One service's OperationsService over gRPC, with the caller's token on every call."""

    def __init__(self, args: argparse.Namespace) -> None:
        from oms.inventory.v1 import operations_pb2_grpc as inventory_ops
        from oms.notify.v1 import operations_pb2_grpc as notify_ops
        from oms.order.v1 import operations_pb2_grpc as order_ops
        from oms.payment.v1 import operations_pb2_grpc as payment_ops

        stubs: dict[str, Callable[[grpc.Channel], Any]] = {
            "order": order_ops.OrderOperationsServiceStub,
            "inventory": inventory_ops.InventoryOperationsServiceStub,
            "notify": notify_ops.NotifyOperationsServiceStub,
            "payment": payment_ops.PaymentOperationsServiceStub,
        }
        self.target = args.target or DEFAULT_TARGETS[args.service]
        # A page is kept near 2 MiB by the service; one dead letter can be as large as the broker
        # allows. Room for both, far below anything a service sends.
        options = [("grpc.max_receive_message_length", 32 << 20)]
        # With OMS_TLS_* set (mTLS on), the operator's certificate (oms-operator in development).
        tls = _tls()
        if tls is None:
            self._channel = grpc.insecure_channel(self.target, options=options)
        else:
            self._channel = grpc.secure_channel(self.target, tls.channel_credentials(), options=options)
        self._stub = stubs[args.service](self._channel)
        self._metadata = (("authorization", f"Bearer {_bearer(args)}"),)
        self._timeout = args.timeout

    def call(self, name: str, request: Message) -> Any:
        try:
            return getattr(self._stub, name)(request, metadata=self._metadata, timeout=self._timeout)
        except grpc.RpcError as exc:
            code = exc.code().name if hasattr(exc, "code") else "ERROR"
            details = exc.details() if hasattr(exc, "details") else str(exc)
            raise CliError(f"{code}: {details} ({self.target})") from exc

    def close(self) -> None:
        self._channel.close()


def _tls() -> MeshTls | None:
    try:
        return MeshTls.from_settings(load(TlsSettings))
    except SettingsError as exc:
        raise CliError(str(exc), status=2) from exc


def _bearer(args: argparse.Namespace) -> str:
    if args.token:
        return str(args.token)
    if os.environ.get("OMS_TOKEN"):
        return os.environ["OMS_TOKEN"]
    try:
        return mint_token("oms-cli", [ROLE_ADMIN], _auth_settings(), ttl_s=300)
    except ValueError as exc:
        raise CliError(f"no token: pass --token or set OMS_TOKEN ({exc})", status=2) from exc


def _operate(args: argparse.Namespace) -> int:
    _load_event_types()
    client = _Client(args)
    try:
        action = _ACTIONS[(args.command, args.action)]
        return action(client, args)
    finally:
        client.close()


def _load_event_types() -> None:
    """Registers every event message, so decoded events (``Any``) print as JSON."""
    from oms.inventory.v1 import events_pb2 as _inventory_events  # noqa: F401
    from oms.order.v1 import events_pb2 as _order_events  # noqa: F401
    from oms.payment.v1 import events_pb2 as _payment_events  # noqa: F401


def _dlq_list(client: _Client, args: argparse.Namespace) -> int:
    letters = _all_dead_letters(client, args.original_topic, args.limit)
    if args.json:
        _print_json({"dead_letters": [_to_dict(d) for d in letters]})
        return 0
    rows = [
        [
            _ref_text(d.ref),
            d.event_type,
            d.key,
            str(d.attempts),
            d.error_type,
            _short(d.error, 60),
            d.dead_lettered_at.ToDatetime().strftime("%Y-%m-%d %H:%M:%S") if d.HasField("dead_lettered_at") else "",
        ]
        for d in letters
    ]
    _print_table(["REF", "TYPE", "KEY", "ATTEMPTS", "ERROR TYPE", "ERROR", "DEAD-LETTERED (UTC)"], rows)
    sys.stdout.write(f"{len(letters)} dead letter(s) on {client.target}\n")
    return 0


def _dlq_show(client: _Client, args: argparse.Namespace) -> int:
    from oms.ops.v1 import ops_pb2

    ref = _parse_ref(args.ref)
    request = ops_pb2.GetDeadLetterRequest(topic=ref.topic, partition=ref.partition, offset=ref.offset)
    letter = client.call("GetDeadLetter", request).dead_letter
    if args.json:
        _print_json(_to_dict(letter))
        return 0
    fields = [
        ("ref", _ref_text(letter.ref)),
        ("event id", letter.event_id),
        ("type", letter.event_type),
        ("key", letter.key),
        ("original", f"{letter.original_topic}/{letter.original_partition}/{letter.original_offset}"),
        ("consumer group", letter.consumer_group),
        ("attempts", str(letter.attempts)),
        ("error type", letter.error_type),
        ("error", letter.error),
        ("size", f"{letter.size_bytes} bytes"),
    ]
    if letter.decode_error:
        fields.append(("decode error", letter.decode_error))
    width = max(len(name) for name, _ in fields)
    for name, value in fields:
        sys.stdout.write(f"{name:<{width}}  {value}\n")
    sys.stdout.write("headers:\n")
    for name in sorted(letter.headers):
        sys.stdout.write(f"  {name}: {letter.headers[name]}\n")
    if letter.HasField("event"):
        sys.stdout.write("event:\n")
        event = json_format.MessageToDict(letter.event)
        sys.stdout.write(json.dumps(event, indent=2, ensure_ascii=False) + "\n")
    return 0


def _dlq_replay(client: _Client, args: argparse.Namespace) -> int:
    from oms.ops.v1 import ops_pb2

    if args.all == bool(args.refs):
        raise CliError("name dead letters (TOPIC/PARTITION/OFFSET) or pass --all, not both", status=2)
    if args.all:
        refs = [d.ref for d in _all_dead_letters(client, args.original_topic, None)]
    else:
        refs = [_parse_ref(text) for text in args.refs]
    results = []
    for start in range(0, len(refs), CHUNK):
        request = ops_pb2.ReplayDeadLettersRequest(dead_letters=refs[start : start + CHUNK])
        results.extend(client.call("ReplayDeadLetters", request).results)
    if args.json:
        _print_json({"results": [_to_dict(r) for r in results]})
    else:
        rows = [
            [_ref_text(r.ref), "replayed" if r.replayed else "NOT replayed", r.original_topic, r.event_id, r.error]
            for r in results
        ]
        _print_table(["REF", "RESULT", "TO TOPIC", "EVENT ID", "ERROR"], rows)
        replayed = sum(r.replayed for r in results)
        sys.stdout.write(f"{replayed} of {len(results)} replayed\n")
    return 0 if all(r.replayed for r in results) else 1


def _outbox_parked(client: _Client, args: argparse.Namespace) -> int:
    rows = _all_parked(client, args.limit)
    if args.json:
        _print_json({"parked_events": [_to_dict(p) for p in rows]})
        return 0
    table = [
        [
            str(p.outbox_id),
            p.event_type,
            p.topic,
            p.key,
            str(p.size_bytes),
            p.parked_at.ToDatetime().strftime("%Y-%m-%d %H:%M:%S") if p.HasField("parked_at") else "",
            _short(p.error, 60),
        ]
        for p in rows
    ]
    _print_table(["ID", "TYPE", "TOPIC", "KEY", "BYTES", "PARKED (UTC)", "ERROR"], table)
    sys.stdout.write(f"{len(rows)} parked event(s) on {client.target}\n")
    return 0


def _outbox_republish(client: _Client, args: argparse.Namespace) -> int:
    from oms.ops.v1 import ops_pb2

    if args.all == bool(args.ids):
        raise CliError("name outbox ids or pass --all, not both", status=2)
    ids = [p.outbox_id for p in _all_parked(client, None)] if args.all else list(args.ids)
    done: list[int] = []
    for start in range(0, len(ids), CHUNK):
        request = ops_pb2.RepublishParkedEventsRequest(outbox_ids=ids[start : start + CHUNK])
        done.extend(client.call("RepublishParkedEvents", request).outbox_ids)
    missing = sorted(set(ids) - set(done))
    if args.json:
        _print_json({"republished": done, "not_parked": missing})
    else:
        sys.stdout.write(f"republished {len(done)} of {len(ids)}: {' '.join(map(str, done)) or '-'}\n")
        if missing:
            sys.stdout.write(f"not parked (left alone): {' '.join(map(str, missing))}\n")
    return 0 if not missing else 1


_ACTIONS: dict[tuple[str, str], Callable[[_Client, argparse.Namespace], int]] = {
    ("dlq", "list"): _dlq_list,
    ("dlq", "show"): _dlq_show,
    ("dlq", "replay"): _dlq_replay,
    ("outbox", "parked"): _outbox_parked,
    ("outbox", "republish"): _outbox_republish,
}


def _all_dead_letters(client: _Client, original_topic: str, limit: int | None) -> list[Any]:
    from oms.ops.v1 import ops_pb2

    letters: list[Any] = []
    token = ""
    while limit is None or len(letters) < limit:
        size = 500 if limit is None else min(limit - len(letters), 500)
        request = ops_pb2.ListDeadLettersRequest(page_size=size, page_token=token, original_topic=original_topic)
        page = client.call("ListDeadLetters", request)
        letters.extend(page.dead_letters)
        token = page.next_page_token
        if not token:
            break
    return letters if limit is None else letters[:limit]


def _all_parked(client: _Client, limit: int | None) -> list[Any]:
    from oms.ops.v1 import ops_pb2

    rows: list[Any] = []
    token = ""
    while limit is None or len(rows) < limit:
        size = 500 if limit is None else min(limit - len(rows), 500)
        page = client.call("ListParkedEvents", ops_pb2.ListParkedEventsRequest(page_size=size, page_token=token))
        rows.extend(page.parked_events)
        token = page.next_page_token
        if not token:
            break
    return rows if limit is None else rows[:limit]


def _parse_ref(text: str) -> Any:
    from oms.ops.v1 import ops_pb2

    topic, _, rest = text.partition("/")
    partition, _, offset = rest.partition("/")
    if not topic or not partition.isdigit() or not offset.isdigit():
        raise CliError(f"{text[:100]!r} is not TOPIC/PARTITION/OFFSET (e.g. orders.dlq/0/12)", status=2)
    return ops_pb2.DeadLetterRef(topic=topic, partition=int(partition), offset=int(offset))


def _ref_text(ref: Any) -> str:
    return f"{ref.topic}/{ref.partition}/{ref.offset}"


def _short(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _to_dict(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def _print_json(value: object) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for row in [header, *rows]:
        sys.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n")


if __name__ == "__main__":
    sys.exit(main())
