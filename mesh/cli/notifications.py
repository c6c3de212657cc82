"""``oms notifications list|retry``: the notify service's sent and failed notifications."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mesh.cli.choices import EnumChoice
from mesh.cli.client import Client, connection_options, paged, positive_int
from mesh.cli.output import print_json, print_table, short, to_dict, when
from oms.notify.v1 import notify_pb2, notify_pb2_grpc

NOTIFICATION_STATUS = EnumChoice(notify_pb2.NotificationStatus, "NOTIFICATION_STATUS_")


def register(commands: Any) -> None:
    notifications = commands.add_parser(
        "notifications",
        help="list and retry customer notifications",
        description="Customer notifications (the notify service).",
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    options = connection_options("notify")
    listing = notifications.add_parser("list", parents=[options], help="list notifications")
    listing.add_argument("--order", default="", help="only this order's")
    listing.add_argument("--customer", default="", help="only this customer's")
    statuses = ", ".join(NOTIFICATION_STATUS.names)
    listing.add_argument("--status", type=NOTIFICATION_STATUS, help=f"only in this status ({statuses})")
    listing.add_argument("--limit", type=positive_int, default=50, help="at most this many (default 50)")
    listing.set_defaults(run=_list)
    retry = notifications.add_parser("retry", parents=[options], help="send a failed notification again")
    retry.add_argument("notification_id")
    retry.set_defaults(run=_retry)


def _connect(args: argparse.Namespace) -> Client:
    return Client.connect(args, "notify", notify_pb2_grpc.NotificationServiceStub)


def _list(args: argparse.Namespace) -> int:
    def fetch(size: int, token: str) -> tuple[list[Any], str]:
        request = notify_pb2.ListNotificationsRequest(
            page_size=size,
            page_token=token,
            order_id=args.order,
            customer_id=args.customer,
            status=args.status or notify_pb2.NOTIFICATION_STATUS_UNSPECIFIED,
        )
        page = client.call("ListNotifications", request)
        return list(page.notifications), page.next_page_token

    with _connect(args) as client:
        found = paged(fetch, args.limit)
    if args.json:
        print_json({"notifications": [to_dict(n) for n in found]})
        return 0
    print_table(
        ["NOTIFICATION", "ORDER", "EVENT", "RECIPIENT", "STATUS", "ATTEMPTS", "UPDATED (UTC)", "LAST ERROR"],
        map(notification_row, found),
    )
    sys.stdout.write(f"{len(found)} notification(s)\n")
    return 0


def notification_row(n: notify_pb2.Notification) -> list[str]:
    return [
        n.notification_id,
        n.order_id,
        n.event_type.rsplit(".", 1)[-1],
        n.recipient,
        NOTIFICATION_STATUS.label(n.status),
        str(n.attempts),
        when(n, "update_time"),
        short(n.last_error, 40),
    ]


def _retry(args: argparse.Namespace) -> int:
    request = notify_pb2.RetryNotificationRequest(notification_id=args.notification_id)
    with _connect(args) as client:
        notification = client.call("RetryNotification", request).notification
    if args.json:
        print_json(to_dict(notification))
    else:
        print_table(
            ["NOTIFICATION", "ORDER", "EVENT", "RECIPIENT", "STATUS", "ATTEMPTS", "UPDATED (UTC)", "LAST ERROR"],
            [notification_row(notification)],
        )
    return 0
