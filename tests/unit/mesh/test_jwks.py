"""mesh.auth.jwks through mesh.auth: a JWKS URL is fetched at a bounded rate, off the event loop's
shared pool, with a short timeout, and a failed refresh keeps the keys already known.

The key set is served by a real HTTP server on 127.0.0.1 that counts its requests.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mesh.auth.jwks import RemoteKeySet
from mesh.auth.minting import mint_token
from mesh.auth.settings import AuthSettings
from mesh.auth.verification import AuthError, TokenVerifier, verify_off_loop


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return document | {"kid": kid, "alg": "RS256", "use": "sig"}


@dataclass
class KeyServer:
    """Serves ``keys`` as a JWKS at ``url``; counts requests; can be slow or stopped."""

    keys: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    delay_s: float = 0.0
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                time.sleep(owner.delay_s)
                body = json.dumps({"keys": owner.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    server = KeyServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


SIGNING = new_key()
STRANGER = new_key()


def settings(url: str, **overrides: Any) -> AuthSettings:
    return AuthSettings(jwks=url, jwt_secret=None, algorithms=("RS256",), **overrides)


def rs256(subject: str, kid: str, key: rsa.RSAPrivateKey = SIGNING) -> str:
    return "Bearer " + mint_token(subject, ["customer"], AuthSettings(), algorithm="RS256", key=key, kid=kid)


async def test_fifty_unknown_kids_cost_one_fetch(key_server: KeyServer) -> None:
    key_server.keys = [jwk(SIGNING, "k1")]
    verifier = TokenVerifier(settings(key_server.url))
    forged = [rs256(f"c-{n}", f"kid-{uuid.uuid4().hex}", STRANGER) for n in range(50)]
    results = await asyncio.gather(*(verify_off_loop(verifier, token) for token in forged), return_exceptions=True)
    assert all(isinstance(r, AuthError) for r in results)
    assert key_server.requests == 1
    # The one fetch brought the real key: a real token verifies without another request.
    principal = await verify_off_loop(verifier, rs256("c-real", "k1"))
    assert principal.id == "c-real"
    assert key_server.requests == 1


async def test_the_fetch_runs_on_the_key_sets_own_thread() -> None:
    threads: list[str] = []

    def fetch(url: str, timeout_s: float) -> bytes:
        threads.append(threading.current_thread().name)
        return json.dumps({"keys": [jwk(SIGNING, "k1")]}).encode()

    keys = RemoteKeySet("http://127.0.0.1:9/jwks.json", fetch=fetch)
    try:
        await keys.refresh_off_loop("k1")
        await keys.refresh_off_loop("k1")  # known now: no second fetch
    finally:
        keys.close()
    assert len(threads) == 1 and threads[0].startswith("jwks")
    assert keys.key_for("k1") is not None


def test_a_failed_refresh_keeps_the_previous_keys(key_server: KeyServer) -> None:
    now = [1000.0]
    key_server.keys = [jwk(SIGNING, "k1")]
    keys = RemoteKeySet(key_server.url, refresh_interval_s=30, max_age_s=300, timeout_s=1, clock=lambda: now[0])
    keys.refresh_if_due("k1")
    assert keys.key_for("k1") is not None and keys.fetches == 1

    key_server.stop()  # the identity provider goes away
    now[0] += 301  # the keys are stale and an unknown kid arrives: a refresh is due, and fails
    keys.refresh_if_due("k2")
    assert keys.fetches == 2
    assert keys.key_for("k1") is not None  # still verifies tokens of the known key
    token = mint_token("c-1", ["customer"], AuthSettings(), algorithm="RS256", key=SIGNING, kid="k1")
    known = keys.key_for("k1")
    assert known is not None
    claims = jwt.decode(token, known, algorithms=["RS256"], audience="oms")
    assert claims["sub"] == "c-1"
    keys.refresh_if_due("k2")  # within the interval after the failure: no new attempt
    assert keys.fetches == 2


async def test_the_verifier_keeps_verifying_known_keys_while_the_provider_is_down(key_server: KeyServer) -> None:
    key_server.keys = [jwk(SIGNING, "k1")]
    verifier = TokenVerifier(settings(key_server.url))
    assert (await verify_off_loop(verifier, rs256("c-1", "k1"))).id == "c-1"
    key_server.stop()
    assert (await verify_off_loop(verifier, rs256("c-2", "k1"))).id == "c-2"  # a new token, same key
    with pytest.raises(AuthError, match="no signing key"):
        await verify_off_loop(verifier, rs256("c-3", "k-rotated"))


def test_a_slow_provider_costs_at_most_the_timeout(key_server: KeyServer) -> None:
    key_server.keys = [jwk(SIGNING, "k1")]
    key_server.delay_s = 3.0
    keys = RemoteKeySet(key_server.url, timeout_s=0.3)
    started = time.monotonic()
    keys.refresh_if_due("k1")
    assert time.monotonic() - started < 2.0
    assert keys.key_for("k1") is None and keys.fetches == 1


def test_garbage_from_the_provider_keeps_the_previous_keys() -> None:
    answers = [json.dumps({"keys": [jwk(SIGNING, "k1")]}).encode(), b"<html>oops</html>", b'{"keys": []}']
    now = [0.0]
    keys = RemoteKeySet("http://x/jwks", fetch=lambda url, timeout: answers.pop(0), clock=lambda: now[0])
    for _ in range(3):
        keys.refresh_if_due("unknown")
        now[0] += 31
        assert keys.key_for("k1") is not None
    assert keys.fetches == 3
