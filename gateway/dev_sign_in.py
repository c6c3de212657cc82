"""``/auth/dev-sign-in``: tokens for the demo customers and the demo admin, in development only.

The web front end signs people in with it when the gateway runs with ``OMS_ENV=development``
and signs tokens with its own HMAC secret (``make run``, the tests). Anywhere else the path is
not served at all (the API's 404), and the page asks for a token of the real identity provider.
It proves nothing about who asks: in development the secret is public anyway.

``GET`` says who one can sign in as; ``POST {"role": "customer", "customerId": "c-demo-ada"}``
or ``POST {"role": "admin"}`` answers ``{"token", "subject", "roles", "expiresAt"}``.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.errors import HttpError, bad_request
from mesh.auth.minting import mint_token
from mesh.auth.principal import ROLE_ADMIN, ROLE_CUSTOMER
from mesh.auth.settings import HMAC_ALGORITHMS, AuthSettings
from mesh.settings.common import DeploymentSettings

PATH = "/auth/dev-sign-in"
DEMO_ADMIN = "admin-1"
# The customers scripts/run seeds; any other id of the same shape may be used (tests make their own).
DEMO_CUSTOMERS = ("c-demo-ada", "c-demo-grace")
TOKEN_TTL_S = 8 * 3600
_CUSTOMER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_MAX_BODY = 4096


def dev_sign_in_enabled(auth: AuthSettings, deployment: DeploymentSettings) -> bool:
    """Development, authentication on, and a secret of this gateway that signs HMAC tokens."""
    return deployment.is_development and auth.enabled and any(a in HMAC_ALGORITHMS for a in auth.effective_algorithms())


def dev_sign_in_routes(auth: AuthSettings) -> list[BaseRoute]:
    async def options(request: Request) -> Response:
        return _json({"demoCustomers": list(DEMO_CUSTOMERS), "admin": DEMO_ADMIN, "ttlSeconds": TOKEN_TTL_S})

    async def sign_in(request: Request) -> Response:
        try:
            subject, roles = _identity(await _body(request))
        except HttpError as exc:
            return exc.response()
        now = time.time()
        token = mint_token(subject, roles, auth, ttl_s=TOKEN_TTL_S, now=now)
        return _json({"token": token, "subject": subject, "roles": roles, "expiresAt": int(now) + TOKEN_TTL_S})

    return [Route(PATH, options, methods=["GET"]), Route(PATH, sign_in, methods=["POST"])]


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > _MAX_BODY:
        raise bad_request(f"the body is larger than {_MAX_BODY} bytes")
    try:
        document = json.loads(raw or b"{}")
    except ValueError:
        raise bad_request("the body is not JSON") from None
    if not isinstance(document, dict):
        raise bad_request("the body must be a JSON object")
    return document


def _identity(document: dict[str, Any]) -> tuple[str, list[str]]:
    role = document.get("role", ROLE_CUSTOMER)
    if role == ROLE_ADMIN:
        return DEMO_ADMIN, [ROLE_ADMIN]
    if role != ROLE_CUSTOMER:
        raise bad_request("role must be 'customer' or 'admin'", "role")
    customer_id = document.get("customerId", DEMO_CUSTOMERS[0])
    if not isinstance(customer_id, str) or not _CUSTOMER_ID.match(customer_id):
        raise bad_request(
            "customerId must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit",
            "customerId",
        )
    return customer_id, [ROLE_CUSTOMER]


def _json(document: dict[str, Any]) -> Response:
    return Response(
        json.dumps(document, separators=(",", ":")),
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )
