"""schemathesis against the running mesh's ``/openapi.json``: no 5xx, responses match the schema.

Hostile as well as honest: data that matches the schema and data that violates it (``--mode
all``: wrong types, missing required fields, out-of-range values), on every route; the gRPC side
has its own suite (test_grpc_hostile.py). Bounded and reproducible: a fixed seed, a few
examples per operation, a time budget, one worker. An admin token is sent on every request so
generated calls reach the services, not only the 401 path.

Two adaptations of the served document, both for the tool, neither loosening a check:

- Path parameters named by a field path (``/products/{product.product_id}``, legal in OpenAPI
  and RFC 6570, and what grpc-gateway emits) crash schemathesis 4 (it expands templates with
  ``str.format``, where ``.`` is attribute access), so they are renamed ``product_product_id``.
  The URLs it sends are the same.
- The event stream is documented for OpenAPI 3.0 as one ``string`` body; schemathesis validates
  each Server-Sent Event against that schema instead (the OpenAPI 3.2 reading). The copy
  describes one event, with ``data`` holding the JSON of the response message or, for
  ``event: error``, a ``google.rpc.Status``: a stricter check than ``string``.

Generated strings may hold U+0000: every service refuses them as INVALID_ARGUMENT naming the
field (PostgreSQL text cannot store them); the test below pins one request per service.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from testkit.infra import Infra
from testkit.processes import new_mesh
from tests.e2e.gateway_support import Stack, running_stack, status_body

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

SEED = 20260512
MAX_EXAMPLES = 8
MAX_TIME_S = 90


def for_the_tool(document: dict[str, Any]) -> dict[str, Any]:
    """The served document with the two adaptations described in the module docstring."""
    adapted = copy.deepcopy(document)
    paths: dict[str, Any] = {}
    for path, operations in adapted["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    parameter["name"] = parameter["name"].replace(".", "_")
            stream = operation["responses"]["200"]["content"].get("text/event-stream")
            if stream is not None:
                result = operation["responses"]["200"]["content"]["application/x-ndjson"]["schema"]["properties"]
                stream["schema"] = {
                    "type": "object",
                    "required": ["data"],
                    "properties": {
                        "event": {"type": "string", "enum": ["message", "error"]},
                        "data": {
                            "type": "string",
                            "contentMediaType": "application/json",
                            "contentSchema": {"anyOf": [result["result"], result["error"]]},
                        },
                    },
                }
        paths[re.sub(r"\{([^}]+)\}", lambda m: "{" + m.group(1).replace(".", "_") + "}", path)] = operations
    adapted["paths"] = paths
    return adapted


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    mesh = await new_mesh(infra, Path(tmp_path_factory.mktemp("gateway-schemathesis")))
    try:
        async with running_stack(mesh) as running:
            yield running
    finally:
        await mesh.stop()


@pytest.mark.slow
async def test_openapi_contract_holds_against_the_real_mesh(stack: Stack, tmp_path: Path) -> None:
    # Some data, so generated ids sometimes hit (most will be unknown: 404s are fine).
    customer, product = await stack.customer(), await stack.product(stock=100)
    await stack.place(customer, product)
    document = (await stack.call("GET", "/openapi.json", headers={})).json()
    schema_file = tmp_path / "openapi.json"
    schema_file.write_text(json.dumps(for_the_tool(document)))
    returncode, output = await schemathesis(schema_file, stack, tmp_path / "report", dict(os.environ))
    assert returncode == 0, f"schemathesis found problems:\n{output}\n--- gateway log:\n{stack.gateway.tail(40)}"


# Found by schemathesis (seed above): a NUL once reached PostgreSQL and came back as a 500
# leaking the SQL text. One request per service.
NUL_REQUESTS = {
    "inventory ListProducts": ("GET", "/products?name_contains=a%00b", None),
    "order CreateCustomer": ("POST", "/customers", {"name": "A\u0000B", "email": "nul@example.com"}),
    "notify ListNotifications": ("GET", "/notifications?order_id=a%00b", None),
}


@pytest.mark.parametrize("case", sorted(NUL_REQUESTS))
async def test_a_nul_character_is_a_400_not_a_500(stack: Stack, case: str) -> None:
    method, path, body = NUL_REQUESTS[case]
    reply = await stack.call(method, path, body=body, expect=None)
    assert reply.status_code == 400, f"{method} {path} → {reply.status_code}: {reply.text[:300]}"
    assert status_body(reply)["code"] == 3


async def schemathesis(schema_file: Path, stack: Stack, report: Path, env: dict[str, str]) -> tuple[int, str]:
    argv = [
        *(sys.executable, "-m", "schemathesis.cli", "run", str(schema_file), "--url", stack.gateway.base_url),
        *("--checks", "not_a_server_error,response_schema_conformance"),
        *("--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--max-time", str(MAX_TIME_S)),
        # Positive and negative data both (schemathesis' default, stated so it cannot drift):
        # schema-violating requests must be refused with a 4xx, never a 5xx.
        *("--mode", "all", "--workers", "1", "--request-timeout", "15", "--phases", "examples,coverage,fuzzing"),
        *("--header", f"Authorization: Bearer {stack.mesh.token()}"),
        # A deadline the client chose and the call could not meet is an honest 504 (as in
        # grpc-gateway; tests/unit/gateway/test_gateway_headers.py): the header's own checks are
        # the unit tests', so the generated requests carry a deadline that can be met.
        *("--header", "Grpc-Timeout: 20S"),
        *("--report", "junit", "--report-dir", str(report), "--output-truncate", "false"),
    ]
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=MAX_TIME_S + 120)
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")
