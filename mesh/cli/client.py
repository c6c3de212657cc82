"""One service's gRPC API as the CLI calls it: address, bearer token, TLS, deadline, errors.

The same settings as the services' own clients: ``OMS_TLS_*`` (mesh.auth.tls; with mutual TLS
on, the operator's certificate, ``oms-operator`` in development) and ``OMS_AUTH_*`` for the
token it mints when none is given. Addresses default to what ``make run`` (scripts/run) prints.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from mesh.auth.minting import mint_token
from mesh.auth.principal import ROLE_ADMIN
from mesh.auth.settings import AuthSettings
from mesh.auth.tls import MeshTls, TlsSettings
from mesh.cli.errors import USAGE, CliError
from mesh.settings.common import SettingsError, load

SERVICES = ("order", "inventory", "notify")
# scripts/run's ports, and the variables it reads them from.
DEFAULT_PORTS = {"order": 50051, "inventory": 50052, "notify": 50053}
# A page the services send stays near 2 MiB; one dead letter can be as large as the broker
# allows. Room for both, far below anything a service sends.
MAX_RECEIVE_BYTES = 32 << 20
# The subject of the admin token minted when none is given (it shows in the services' logs).
CLI_SUBJECT = "oms-cli"
MINTED_TTL_S = 300


def default_address(service: str, environ: Mapping[str, str] | None = None) -> str:
    """``$OMS_CLI_<SERVICE>_ADDR``, else 127.0.0.1 and the port ``make run`` gives the service
    (``$OMS_<SERVICE>_GRPC_PORT``, else 50051/50052/50053)."""
    env = os.environ if environ is None else environ
    upper = service.upper()
    explicit = env.get(f"OMS_CLI_{upper}_ADDR", "").strip()
    if explicit:
        return explicit
    port = env.get(f"OMS_{upper}_GRPC_PORT", "").strip() or str(DEFAULT_PORTS[service])
    return f"127.0.0.1:{port}"


def connection_options(service: str | None) -> argparse.ArgumentParser:
    """The options of every gRPC command; ``service`` None: the command takes ``--service``."""
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("connection")
    if service is None:
        group.add_argument("--service", choices=SERVICES, default="order", help="whose (default order)")
        whose = "the service's"
        default = "$OMS_CLI_<SERVICE>_ADDR, else its `make run` port"
    else:
        whose = f"the {service} service's"
        default = f"$OMS_CLI_{service.upper()}_ADDR, else 127.0.0.1:{DEFAULT_PORTS[service]}"
    group.add_argument("--target", metavar="HOST:PORT", help=f"{whose} gRPC address (default {default})")
    group.add_argument("--token", help="bearer token (default $OMS_TOKEN, else an admin token minted from OMS_AUTH_*)")
    group.add_argument("--timeout", type=positive_float, default=30.0, help="seconds per call (default 30)")
    group.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return options


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


class Client:
    """One service's stub over one channel, the caller's token on every call."""

    def __init__(self, target: str, stub: Callable[[grpc.Channel], Any], token: str, timeout_s: float) -> None:
        self.target = target
        options = [("grpc.max_receive_message_length", MAX_RECEIVE_BYTES)]
        tls = _tls()
        if tls is None:
            self._channel = grpc.insecure_channel(target, options=options)
        else:
            self._channel = grpc.secure_channel(target, tls.channel_credentials(), options=options)
        self._stub = stub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),)
        self._timeout_s = timeout_s

    @classmethod
    def connect(cls, args: argparse.Namespace, service: str, stub: Callable[[grpc.Channel], Any]) -> Client:
        return cls(args.target or default_address(service), stub, bearer(args.token), args.timeout)

    def call(self, method: str, request: Message) -> Any:
        """A unary RPC; a failure becomes a CliError naming the code, message and details."""
        try:
            return getattr(self._stub, method)(request, metadata=self._metadata, timeout=self._timeout_s)
        except grpc.RpcError as exc:
            raise CliError(describe_rpc_error(exc, self.target)) from exc

    def stream(self, method: str, request: Message) -> Iterator[Any]:
        """A server stream with no deadline (the server ends it); cancelled when the caller
        stops reading (Ctrl-C included)."""
        call = getattr(self._stub, method)(request, metadata=self._metadata)
        try:
            yield from call
        except grpc.RpcError as exc:
            raise CliError(describe_rpc_error(exc, self.target)) from exc
        finally:
            call.cancel()

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def bearer(token: str | None, environ: Mapping[str, str] | None = None) -> str:
    """``--token``, else ``$OMS_TOKEN``, else an admin token signed with the ``OMS_AUTH_*``
    settings (the development secret under ``make run``; refused where no secret is set)."""
    env = os.environ if environ is None else environ
    if token:
        return token
    if env.get("OMS_TOKEN", "").strip():
        return env["OMS_TOKEN"].strip()
    try:
        return mint(CLI_SUBJECT, [ROLE_ADMIN], ttl_s=MINTED_TTL_S)
    except CliError as exc:
        raise CliError(f"no token: pass --token or set OMS_TOKEN ({exc})", status=USAGE) from exc


def mint(subject: str, roles: list[str], *, ttl_s: int) -> str:
    """A token signed with the ``OMS_AUTH_*`` settings' HS256 secret."""
    settings = auth_settings()
    if settings.jwt_secret is None or not settings.jwt_secret.get_secret_value():
        raise CliError("no OMS_AUTH_JWT_SECRET to sign a token with", status=USAGE)
    return mint_token(subject, roles, settings, ttl_s=ttl_s)


def auth_settings() -> AuthSettings:
    try:
        return load(AuthSettings)
    except SettingsError as exc:
        raise CliError(str(exc), status=USAGE) from exc


def _tls() -> MeshTls | None:
    try:
        return MeshTls.from_settings(load(TlsSettings))
    except SettingsError as exc:
        raise CliError(str(exc), status=USAGE) from exc


def describe_rpc_error(error: grpc.RpcError, target: str) -> str:
    """``CODE: message (target)``, then one indented line per detail the mesh sends: field
    violations (``BadRequest``), failed preconditions, quota failures, the retry delay."""
    code = error.code().name if isinstance(error, grpc.Call) else "UNKNOWN"
    message = error.details() if isinstance(error, grpc.Call) else str(error)
    lines = [f"{code}: {message} ({target})"]
    lines.extend(f"  {line}" for line in _detail_lines(error))
    return "\n".join(lines)


def _detail_lines(error: grpc.RpcError) -> Iterator[str]:
    if not isinstance(error, grpc.Call):
        return
    try:
        status = rpc_status.from_call(error)
    except ValueError:  # details that contradict the status line: show the status line only
        return
    if status is None:
        return
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            for violation in bad.field_violations:
                yield f"{violation.field or '(request)'}: {violation.description}"
        elif detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            failure = error_details_pb2.PreconditionFailure()
            detail.Unpack(failure)
            for item in failure.violations:
                yield f"{item.type} {item.subject}: {item.description}".strip()
        elif detail.Is(error_details_pb2.QuotaFailure.DESCRIPTOR):
            quota = error_details_pb2.QuotaFailure()
            detail.Unpack(quota)
            for limit in quota.violations:
                yield f"quota {limit.subject}: {limit.description}"
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            yield f"retry after {retry.retry_delay.ToTimedelta().total_seconds():g}s"


def paged(fetch: Callable[[int, str], tuple[list[Any], str]], limit: int | None, *, page_max: int = 100) -> list[Any]:
    """Every item of a paged List RPC, at most ``limit``: ``fetch(page_size, page_token)``
    returns one page's items and the next page token ("" after the last page)."""
    items: list[Any] = []
    token = ""
    while limit is None or len(items) < limit:
        size = page_max if limit is None else min(limit - len(items), page_max)
        page, token = fetch(size, token)
        items.extend(page)
        if not token:
            break
    return items if limit is None else items[:limit]
