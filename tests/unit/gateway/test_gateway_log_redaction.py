"""Tokens never reach the gateway's logs: not from ``?access_token=`` (SSE clients), not from
an ``Authorization`` header."""

from __future__ import annotations

import io
import logging
import os
import uuid
from pathlib import Path

import httpx

from gateway.log_redaction import REDACTED, RedactingFilter, redact
from testkit.processes import GatewayProcess, free_port


def test_redact_hides_query_tokens_and_bearer_values() -> None:
    assert (
        redact("GET /orders/o-1:watch?access_token=abc.def.ghi&x=1")
        == f"GET /orders/o-1:watch?access_token={REDACTED}&x=1"
    )
    assert redact("authorization: Bearer abc.def") == f"authorization: Bearer {REDACTED}"
    assert redact("GET /products?page_size=5") == "GET /products?page_size=5"


def test_the_filter_rewrites_message_arguments_and_extra_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s %(header)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger(f"test.redaction.{uuid.uuid4().hex}")
    logger.addHandler(handler)
    logger.propagate = False
    # The shape of uvicorn's access log record: the path with its query string is an argument.
    logger.warning(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5",
        "GET",
        "/x?access_token=SECRET-1",
        "1.1",
        401,
        extra={"header": "Bearer SECRET-2"},
    )
    logged = stream.getvalue()
    assert "SECRET" not in logged
    assert logged.count(REDACTED) == 2


async def test_a_real_gateway_logs_no_token(tmp_path: Path) -> None:
    secrets = [f"SECRET-{uuid.uuid4().hex}" for _ in range(3)]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")} | {
        "OMS_ENV": "development",
        "OMS_GATEWAY_PORT": str(port),
        # Nothing listens there: the requests below are answered (or refused) by the gateway itself.
        "OMS_GATEWAY_ORDER_ADDR": f"127.0.0.1:{free_port()}",
        "OMS_GATEWAY_INVENTORY_ADDR": f"127.0.0.1:{free_port()}",
        "OMS_GATEWAY_NOTIFY_ADDR": f"127.0.0.1:{free_port()}",
        "OMS_GATEWAY_LOG_LEVEL": "info",  # the access log is on
        "OMS_GATEWAY_CONNECT_TIMEOUT_S": "0.5",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "gateway.log"
    gateway = GatewayProcess(port, env, log_path, ready_path="/openapi.json")
    await gateway.start()
    try:
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=10) as http:
            watched = await http.get(
                f"/orders/o-1:watch?access_token={secrets[0]}", headers={"Accept": "text/event-stream"}
            )
            assert watched.status_code == 401
            await http.get(f"/products?access_token={secrets[1]}", params={"pageSize": 1})
            listed = await http.get("/orders", headers={"Authorization": f"Bearer {secrets[2]}"})
            assert listed.status_code == 401
    finally:
        await gateway.stop()
    logged = log_path.read_text()
    assert f"access_token={REDACTED}" in logged  # the access log did print the requests
    assert not [s for s in secrets if s in logged]
