"""The mesh's real services as child processes, for end-to-end and crash tests.

Each mesh gets fresh databases, a unique Kafka topic prefix and consumer groups, and free
ports, so tests never see each other. Processes can be killed (SIGKILL, mid-flight) and
started again on the same databases and ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import ssl
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mesh.auth.minting import mint_token
from mesh.auth.tls import MeshTls
from mesh.settings.common import KafkaSettings
from testkit.infra import Infra, create_database, drop_database, fresh_kafka, group_suffix, remove_kafka_of

ROOT = Path(__file__).resolve().parents[1]
RATE_LIMIT_CLASSES = ("READS", "WRITES", "PLACEMENT", "STREAMS")


async def stop_gracefully(process: asyncio.subprocess.Process | None, *, timeout_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within ``timeout_s``."""
    if process is None or process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), timeout=timeout_s)
    except TimeoutError:
        process.kill()
        await process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServiceProcess:
    name: str
    module: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    # With mTLS on, the certificate the readiness check (and test clients) present.
    client_tls: MeshTls | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self, *, timeout_s: float = 60.0) -> None:
        self.starts += 1
        log = self.log_path.open("ab")
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", self.module, cwd=ROOT, env=self.env, stdout=log, stderr=log
            )
        finally:
            log.close()
        await self.wait_serving(timeout_s=timeout_s)

    async def wait_serving(self, *, timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        async with self.channel() as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                if self.process is not None and self.process.returncode is not None:
                    raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")
                with contextlib.suppress(grpc.aio.AioRpcError):
                    reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                if loop.time() > deadline:
                    raise AssertionError(f"{self.name} not SERVING within {timeout_s}s:\n{self.tail()}")
                await asyncio.sleep(0.1)

    def channel(self, tls: MeshTls | None = None) -> grpc.aio.Channel:
        """A channel to this service: mutual TLS (``tls`` or the operator's certificate) when the
        mesh runs with TLS, plaintext otherwise."""
        tls = tls or self.client_tls
        if tls is None:
            return grpc.aio.insecure_channel(self.address)
        return grpc.aio.secure_channel(self.address, tls.channel_credentials())

    async def kill(self) -> None:
        """SIGKILL: no drain, no flush, no offset commit — a crash."""
        await self._signal(signal.SIGKILL)

    async def terminate(self, *, timeout_s: float = 30.0) -> int:
        return await self._signal(signal.SIGTERM, timeout_s=timeout_s)

    async def _signal(self, sig: int, *, timeout_s: float = 30.0) -> int:
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return process.returncode if process and process.returncode is not None else 0
        process.send_signal(sig)
        return await asyncio.wait_for(process.wait(), timeout=timeout_s)

    def tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Mesh:
    infra: Infra
    kafka: KafkaSettings
    workdir: Path
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    databases: dict[str, str] = field(default_factory=dict)
    relays: list[RelayProcess] = field(default_factory=list)
    # A folder of mesh.auth.dev_certs output: every process then runs with mutual TLS (its own
    # certificate, <name>.pem) and the gateway with HTTPS. None: plaintext, as in development.
    tls_dir: Path | None = None

    def tls_env(self, identity: str) -> dict[str, str]:
        """The OMS_TLS_* settings of a process presenting ``identity``'s certificate ({} without TLS)."""
        if self.tls_dir is None:
            return {}
        return {
            "OMS_TLS_CA_FILE": str(self.tls_dir / "ca.pem"),
            "OMS_TLS_CERT_FILE": str(self.tls_dir / f"{identity}.pem"),
            "OMS_TLS_KEY_FILE": str(self.tls_dir / f"{identity}-key.pem"),
        }

    def client_tls(self, identity: str = "oms-operator") -> MeshTls | None:
        """The mTLS material of a client presenting ``identity`` (None without TLS)."""
        if self.tls_dir is None:
            return None
        return MeshTls(
            (self.tls_dir / "ca.pem").read_bytes(),
            (self.tls_dir / f"{identity}.pem").read_bytes(),
            (self.tls_dir / f"{identity}-key.pem").read_bytes(),
        )

    def token(self, subject: str = "admin-1", *roles: str) -> str:
        return mint_token(subject, roles or ("admin",))

    def metadata(self, subject: str = "admin-1", *roles: str) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token(subject, *roles)}"),)

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
        env.update(
            {
                "OMS_KAFKA_BOOTSTRAP": self.kafka.bootstrap,
                "OMS_KAFKA_TOPIC_PREFIX": self.kafka.topic_prefix,
                "OMS_KAFKA_PARTITIONS": str(self.kafka.partitions),
                "OMS_KAFKA_REPLICATION_FACTOR": str(self.kafka.replication_factor),
                "OMS_REDIS_URL": self.infra.redis_url,
                "OMS_LOG_FORMAT": "json",
                # The tests sign tokens with the public development secret, allowed only here.
                "OMS_ENV": "development",
                "PYTHONUNBUFFERED": "1",
                # Suites that hammer the gateway as one caller (schemathesis, hostile input) must
                # never meet a rate limit; the rate-limit tests set their own.
                **{f"OMS_GATEWAY_RATE_LIMIT_{kind}": "1000000/minute" for kind in RATE_LIMIT_CLASSES},
                # The same for the services' per-caller cap on calls in flight (hostile suites and
                # load benchmarks send many calls at once with one token).
                **{
                    f"OMS_{svc}_MAX_CONCURRENT_CALLS_PER_PRINCIPAL": "100000"
                    for svc in ("ORDER", "INVENTORY", "NOTIFY")
                },
            }
        )
        return env

    async def add(self, name: str, *, extra_env: dict[str, str] | None = None, replica: int = 1) -> ServiceProcess:
        """Adds (without starting) one of: order, inventory, notify.

        ``replica`` > 1 adds another process of the same service (same database, same consumer
        group, its own port), kept in ``services`` as ``<name>-<replica>``.
        """
        module = f"{name}_svc"
        prefix = f"OMS_{name.upper()}_"
        if module not in self.databases:
            self.databases[module] = await create_database(self.infra, module)
        port = free_port()
        env = self.base_env() | {
            f"{prefix}DATABASE_URL": self.databases[module],
            f"{prefix}GRPC_PORT": str(port),
            f"{prefix}METRICS_PORT": "0",
            # The marker in the suffix: the groups are deleted with the topics (testkit.leftovers).
            f"{prefix}CONSUMER_GROUP": f"{name}-svc",
            f"{prefix}CONSUMER_GROUP_SUFFIX": group_suffix(self.kafka),
            f"{prefix}SHUTDOWN_GRACE_S": "5",
        }
        env |= self.tls_env(name)
        env |= extra_env or {}
        key = name if replica == 1 else f"{name}-{replica}"
        service = ServiceProcess(key, module, port, env, self.workdir / f"{key}.log", client_tls=self.client_tls())
        self.services[key] = service
        return service

    def relay(self, name: str, number: int = 1) -> RelayProcess:
        relay = RelayProcess(self.services[name], self.workdir / f"{name}-relay-{number}.log")
        self.relays.append(relay)
        return relay

    async def stop(self) -> None:
        for relay in self.relays:
            with contextlib.suppress(Exception):
                await relay.kill()
        for service in self.services.values():
            with contextlib.suppress(Exception):
                await service.terminate(timeout_s=15)
            with contextlib.suppress(Exception):
                await service.kill()
        for url in self.databases.values():
            with contextlib.suppress(Exception):
                await drop_database(self.infra, url)
        # After every process is gone: the topics they created under the prefix, and their groups.
        with contextlib.suppress(Exception):
            await remove_kafka_of(self.kafka)


async def new_mesh(infra: Infra, workdir: Path) -> Mesh:
    """A mesh of its own; the caller ends it with ``Mesh.stop`` in a finalizer (that also drops
    its databases and deletes its topics and consumer groups)."""
    kafka = await fresh_kafka(infra)
    folder = workdir / f"mesh-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    return Mesh(infra, kafka, folder)


@dataclass
class RelayProcess:
    """A standalone outbox relay (``python -m mesh.messaging.relay_main``) for one service's database."""

    service: ServiceProcess
    log_path: Path
    process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        log = self.log_path.open("ab")
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "mesh.messaging.relay_main",
                self.service.module.removesuffix("_svc"),
                cwd=ROOT,
                env=self.service.env,
                stdout=log,
                stderr=log,
            )
        finally:
            log.close()

    async def kill(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()

    async def terminate(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), timeout=15)


@dataclass
class GatewayProcess:
    """``python -m gateway`` as a child process, ready once ``GET <ready_path>`` answers 200.

    ``/healthz`` needs every upstream SERVING; ``/openapi.json`` only the gateway itself.
    """

    port: int
    env: dict[str, str]
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    ready_path: str = "/healthz"
    # The CA that signed the gateway's HTTPS certificate; None: the gateway speaks plain HTTP.
    ca_file: Path | None = None

    @property
    def base_url(self) -> str:
        return f"{'https' if self.ca_file else 'http'}://127.0.0.1:{self.port}"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """What httpx's ``verify`` needs to trust this gateway."""
        return ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else True

    async def start(self, *, timeout_s: float = 30.0) -> None:
        log = self.log_path.open("ab")
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gateway", cwd=ROOT, env=self.env, stdout=log, stderr=log
            )
        finally:
            log.close()
        try:
            await self.wait_healthy(timeout_s=timeout_s)
        except BaseException:
            await self.stop()
            raise

    async def wait_healthy(self, *, timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        last = "no answer"
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2.0, verify=self.verify) as client:
            while True:
                if self.process is not None and self.process.returncode is not None:
                    raise AssertionError(f"gateway exited with {self.process.returncode}:\n{self.tail()}")
                try:
                    reply = await client.get(self.ready_path)
                    if reply.status_code == 200:
                        return
                    last = f"{reply.status_code} {reply.text}"
                except httpx.TransportError as exc:
                    last = repr(exc)
                if loop.time() > deadline:
                    what = f"gateway not ready ({self.ready_path}) within {timeout_s}s (last: {last})"
                    raise AssertionError(f"{what}:\n{self.tail()}")
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        process, self.process = self.process, None
        await stop_gracefully(process)

    def tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
