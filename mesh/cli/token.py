"""``oms token``: a signed bearer token, for curl, grpcurl and tests."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mesh.auth.principal import ROLE_ADMIN, ROLE_CUSTOMER
from mesh.cli.client import mint, positive_int


def register(commands: Any) -> None:
    token = commands.add_parser(
        "token",
        help="print a signed bearer token",
        description="Prints a bearer token signed with the OMS_AUTH_* settings (HS256 with "
        "OMS_AUTH_JWT_SECRET; the public development secret under `make run`).",
    )
    token.add_argument("--sub", required=True, help="principal id (a customer's customer_id)")
    token.add_argument(
        "--role",
        action="append",
        default=[],
        choices=[ROLE_CUSTOMER, ROLE_ADMIN],
        help="role to grant; repeat for several",
    )
    token.add_argument("--ttl", type=positive_int, default=3600, help="lifetime in seconds (default 3600)")
    token.set_defaults(run=_token)


def _token(args: argparse.Namespace) -> int:
    sys.stdout.write(mint(args.sub, args.role, ttl_s=args.ttl) + "\n")
    return 0
