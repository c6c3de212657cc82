"""The ``oms`` command: small operator tools.

``oms token --sub c-1 --role customer [--ttl 3600]`` prints a bearer token signed with the
configured ``OMS_AUTH_*`` settings (HS256 with ``OMS_AUTH_JWT_SECRET``), for curl and tests.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mesh.auth import ROLE_ADMIN, ROLE_CUSTOMER, AuthSettings, mint_token
from mesh.settings import SettingsError, load


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "token":
        if args.ttl <= 0:
            sys.stderr.write("oms token: --ttl must be positive\n")
            return 2
        try:
            settings = load(AuthSettings)
        except SettingsError as exc:
            sys.stderr.write(f"{exc}\n")
            return 2
        sys.stdout.write(mint_token(args.sub, args.role, settings, ttl_s=args.ttl) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
