"""Container healthcheck for the OMS image (docker-compose.yml), with no extra binaries.

    python /app/healthcheck.py grpc 127.0.0.1:50051     # exit 0 when the gRPC health check says SERVING
    python /app/healthcheck.py http http://127.0.0.1:8080/healthz   # exit 0 on HTTP 2xx

With mTLS on (OMS_TLS_* in the container's environment) the gRPC check presents the process's
own certificate; see _channel and http_ok for the two optional OMS_HEALTHCHECK_* variables.

Prints one line saying why it failed, which `docker inspect` shows under State.Health.
"""

from __future__ import annotations

import os
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

TIMEOUT_S = 3.0


def grpc_serving(address: str) -> str | None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with _channel(grpc, address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT_S)
        except grpc.RpcError as error:
            return f"{address}: {error.code().name}: {error.details()}"
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        return f"{address}: {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}"
    return None


def _channel(grpc: Any, address: str) -> Any:
    """Plaintext, or mutual TLS with the process's own certificate when OMS_TLS_* are set (a
    service's health answers every certificate of the mesh's CA). OMS_HEALTHCHECK_SERVER_NAME
    names the host to expect in the server's certificate when it does not carry 127.0.0.1."""
    files = [os.environ.get(name, "") for name in ("OMS_TLS_CA_FILE", "OMS_TLS_CERT_FILE", "OMS_TLS_KEY_FILE")]
    if not all(files):
        return grpc.insecure_channel(address)
    ca, cert, key = (Path(name).read_bytes() for name in files)
    credentials = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
    server_name = os.environ.get("OMS_HEALTHCHECK_SERVER_NAME", "")
    options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
    return grpc.secure_channel(address, credentials, options=options)


def http_ok(url: str) -> str | None:
    try:
        # An https:// gateway with a certificate of a private CA: OMS_HEALTHCHECK_CA_FILE names it.
        cafile = os.environ.get("OMS_HEALTHCHECK_CA_FILE") or None
        context = ssl.create_default_context(cafile=cafile) if url.startswith("https://") else None
        with urllib.request.urlopen(url, timeout=TIMEOUT_S, context=context) as response:
            status = int(response.status)
    except urllib.error.HTTPError as error:
        return f"{url}: HTTP {error.code}"
    except OSError as error:
        return f"{url}: {error}"
    return None if 200 <= status < 300 else f"{url}: HTTP {status}"


def main(argv: list[str]) -> int:
    checks = {"grpc": grpc_serving, "http": http_ok}
    if len(argv) != 2 or argv[0] not in checks:
        sys.stderr.write("usage: healthcheck.py grpc HOST:PORT | http URL\n")
        return 2
    problem = checks[argv[0]](argv[1])
    if problem:
        sys.stdout.write(f"unhealthy: {problem}\n")
        return 1
    sys.stdout.write("healthy\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
