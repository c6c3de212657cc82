"""Container healthcheck for the OMS image (docker-compose.yml), with no extra binaries.

    python /app/healthcheck.py grpc 127.0.0.1:50051     # exit 0 when the gRPC health check says SERVING
    python /app/healthcheck.py http http://127.0.0.1:8080/healthz   # exit 0 on HTTP 2xx

Prints one line saying why it failed, which `docker inspect` shows under State.Health.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

TIMEOUT_S = 3.0


def grpc_serving(address: str) -> str | None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT_S)
        except grpc.RpcError as error:
            return f"{address}: {error.code().name}: {error.details()}"
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        return f"{address}: {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}"
    return None


def http_ok(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
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
