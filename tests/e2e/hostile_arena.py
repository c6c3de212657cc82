"""The running mesh as a target for hostile gRPC requests, and the rules every answer must obey.

``Arena`` sends one request (a generated message, or bytes that are not one) to the process
serving its RPC, as a given caller, and judges the answer:

- never ``INTERNAL``, ``UNKNOWN`` or ``DATA_LOSS`` (a bug reached the caller);
- never ``UNAVAILABLE`` while the mesh is up, never silence past the client's deadline on a
  unary RPC (hostile input is refused at once, it does not look like an outage);
- ``INVALID_ARGUMENT`` on a request that decoded carries ``google.rpc.BadRequest`` field
  violations;
- an error message stays short and never echoes a long input back;
- a refused request that could write (every RPC not mapped to HTTP GET) leaves the service
  databases' footprint unchanged (see ``testkit/footprint.py``).

Every breach becomes a ``Finding`` naming the RPC, the caller, the hostile classes of the
input, a truncated rendering of the request, the status and its details.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from testkit.footprint import Footprint, changes
from testkit.hostile_messages import Rpc, strings_in, summarize
from testkit.processes import ServiceProcess

FORBIDDEN = {
    grpc.StatusCode.INTERNAL: "a bug reached the caller",
    grpc.StatusCode.UNKNOWN: "an exception the service did not map",
    grpc.StatusCode.DATA_LOSS: "the service reported lost data",
}
UNARY_TIMEOUT_S = 10.0
STREAM_FIRST_MESSAGE_S = 2.0
STREAM_NEXT_MESSAGE_S = 0.3
STREAM_MESSAGES = 2
MAX_DETAILS = 1_000
ECHO_PROBE = 100
DETAILS_KEY = "grpc-status-details-bin"
UNLIMITED = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]


@dataclass(frozen=True)
class Caller:
    name: str
    metadata: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Outcome:
    code: grpc.StatusCode
    details: str
    status: status_pb2.Status | None
    elapsed_s: float


@dataclass(frozen=True)
class Finding:
    rpc: str
    problem: str
    code: str
    caller: str
    classes: tuple[str, ...]
    request: str
    details: str

    def describe(self) -> str:
        classes = "; ".join(self.classes[:6]) or "-"
        return (
            f"as {self.caller} | input: {classes}\n      request: {self.request}\n"
            f"      answer: {self.code}: {self.details[:300]!r}"
        )


@dataclass
class Target:
    """One process that serves an RPC's service, and a channel to it."""

    process: ServiceProcess
    channel: grpc.aio.Channel


@dataclass
class Arena:
    targets: dict[str, list[Target]]  # service full name → the processes serving it
    footprint: Footprint
    findings: list[Finding] = field(default_factory=list)
    calls: int = 0

    def alive(self, rpc: Rpc) -> list[Target]:
        return [t for t in self.targets.get(rpc.service, []) if _running(t.process)]

    async def attack(
        self, rpc: Rpc, payload: bytes, caller: Caller, *, request: Message | None, classes: Sequence[str]
    ) -> None:
        """Sends ``payload`` to every process serving ``rpc``; records what breaks the rules."""
        for target in self.targets[rpc.service]:
            before = None if rpc.reads_only else await self.footprint.take()
            outcome = await self._send(target, rpc, payload, caller)
            self.calls += 1
            problems = judge(outcome, rpc, request, target.process)
            if before is not None and outcome.code != grpc.StatusCode.OK:
                written = changes(before, await self.footprint.take())
                if written:
                    problems.append(f"refused ({outcome.code.name}) but wrote: {'; '.join(written)}")
            summary = summarize(request) if request is not None else f"{len(payload)} raw bytes"
            for problem in problems:
                self.findings.append(
                    Finding(rpc.name, problem, outcome.code.name, caller.name, tuple(classes), summary, outcome.details)
                )

    async def _send(self, target: Target, rpc: Rpc, payload: bytes, caller: Caller) -> Outcome:
        started = time.monotonic()
        try:
            if rpc.client_streaming:
                return await self._client_stream(target, rpc, payload, caller, started)
            if rpc.server_streaming:
                return await self._server_stream(target, rpc, payload, caller, started)
            # No serializers: the payload goes out as the bytes it is, message or not.
            unary: Any = target.channel.unary_unary(rpc.path)
            await unary(payload, metadata=caller.metadata, timeout=UNARY_TIMEOUT_S)
            return Outcome(grpc.StatusCode.OK, "", None, time.monotonic() - started)
        except grpc.aio.AioRpcError as error:
            return _outcome_of(error, started)

    async def _server_stream(self, target: Target, rpc: Rpc, payload: bytes, caller: Caller, started: float) -> Outcome:
        """Reads a few messages, then leaves: an open stream is not an error."""
        streaming: Any = target.channel.unary_stream(rpc.path)
        call = streaming(
            payload, metadata=caller.metadata, timeout=STREAM_FIRST_MESSAGE_S + STREAM_NEXT_MESSAGE_S * STREAM_MESSAGES
        )
        try:
            for index in range(STREAM_MESSAGES):
                wait = STREAM_FIRST_MESSAGE_S if index == 0 else STREAM_NEXT_MESSAGE_S
                try:
                    item = await asyncio.wait_for(call.read(), timeout=wait)
                except TimeoutError:
                    break
                if item is grpc.aio.EOF:
                    break
        finally:
            call.cancel()
        code = await call.code()
        if code in (grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED):
            code = grpc.StatusCode.OK  # we left (or our own deadline ended it): the stream was fine
        return Outcome(
            code, await call.details() or "", _rich_status(await call.trailing_metadata()), time.monotonic() - started
        )

    async def _client_stream(self, target: Target, rpc: Rpc, payload: bytes, caller: Caller, started: float) -> Outcome:
        """Sends the payload twice (no RPC of ours streams requests yet; this keeps one that does
        in the attack instead of skipping it)."""
        factory: Any = target.channel.stream_stream if rpc.server_streaming else target.channel.stream_unary
        call = factory(rpc.path)(iter([payload, payload]), metadata=caller.metadata, timeout=UNARY_TIMEOUT_S)
        if rpc.server_streaming:
            async for _ in call:
                break
            call.cancel()
        else:
            await call
        return Outcome(grpc.StatusCode.OK, "", None, time.monotonic() - started)

    def report(self, rpc: Rpc, findings: Sequence[Finding], tried: int) -> str:
        return format_findings(findings, f"{rpc.name} ({rpc.path}): {len(findings)} findings in {tried} requests")


def judge(outcome: Outcome, rpc: Rpc, request: Message | None, process: ServiceProcess) -> list[str]:
    """The rules every answer obeys; one line per rule broken."""
    problems: list[str] = []
    code = outcome.code
    if code in FORBIDDEN:
        problems.append(f"{code.name}: {FORBIDDEN[code]}")
    elif code == grpc.StatusCode.UNAVAILABLE:
        if not _running(process):
            problems.append(f"{process.name} process exited ({process.process and process.process.returncode})")
        else:
            problems.append("UNAVAILABLE from a process still running or shutting down (hostile input is no outage)")
    elif code == grpc.StatusCode.DEADLINE_EXCEEDED and not rpc.server_streaming:
        problems.append(f"no answer within {UNARY_TIMEOUT_S:.0f}s")
    elif code == grpc.StatusCode.RESOURCE_EXHAUSTED and "metadata" in outcome.details.lower():
        problems.append("the error's trailers exceeded the metadata limit")
    if code == grpc.StatusCode.INVALID_ARGUMENT and request is not None and not _has_field_violations(outcome):
        problems.append("INVALID_ARGUMENT without google.rpc.BadRequest field violations")
    if len(outcome.details) > MAX_DETAILS:
        problems.append(f"error message of {len(outcome.details)} characters")
    if request is not None and code != grpc.StatusCode.OK:
        echoed = [s for s in strings_in(request) if len(s) > ECHO_PROBE * 2 and s[:ECHO_PROBE] in outcome.details]
        if echoed:
            problems.append(f"error message echoes a {len(echoed[0])}-character input")
    return problems


def format_findings(findings: Sequence[Finding], title: str, *, per_class: int = 2) -> str:
    grouped: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for finding in findings:
        grouped[
            (finding.problem.split(":")[0] if finding.problem.startswith("refused") else finding.problem, finding.code)
        ].append(finding)
    lines = [title]
    for (problem, code), group in sorted(grouped.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"  - {problem} [{code}]: {len(group)} of them, e.g.:")
        lines += [
            f"    · {f.describe()}" + (f"\n      {f.problem}" if f.problem != problem else "")
            for f in group[:per_class]
        ]
    return "\n".join(lines)


def _outcome_of(error: grpc.aio.AioRpcError, started: float) -> Outcome:
    return Outcome(
        error.code(), error.details() or "", _rich_status(error.trailing_metadata()), time.monotonic() - started
    )


def _rich_status(trailers: object) -> status_pb2.Status | None:
    for key, value in trailers or ():  # type: ignore[attr-defined]
        if key == DETAILS_KEY and isinstance(value, bytes):
            return status_pb2.Status.FromString(value)
    return None


def _has_field_violations(outcome: Outcome) -> bool:
    if outcome.status is None or outcome.status.code != grpc.StatusCode.INVALID_ARGUMENT.value[0]:
        return False
    for detail in outcome.status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            if bad.field_violations:
                return True
    return False


def _running(process: ServiceProcess) -> bool:
    return process.process is not None and process.process.returncode is None
