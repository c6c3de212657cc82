"""A real HTTP webhook receiver on a free loopback port, for integration and e2e tests.

It records every request (headers and body) as it arrives, answers with scripted statuses
(``fail_first``: the first n requests of each delivery id get a 5xx) and can hold its answer
(``hold_s``) so a test can stop the sender between the POST and its outcome. ``accepted()``
is what a receiver that deduplicates on ``webhook-id`` keeps: one request per delivery id.
``verify`` checks a Standard Webhooks signature with the standard library only, as a
receiver written from docs/webhooks.md would.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

_MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class WebhookRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    # What the receiver answered.
    status: int

    @property
    def delivery_id(self) -> str:
        return self.headers.get("webhook-id", "")

    def event(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


def verify(secret: str, headers: dict[str, str], body: bytes, *, tolerance_s: float = 300) -> bool:
    """Standard Webhooks: HMAC-SHA256 over ``{id}.{timestamp}.{body}``, any ``v1,`` signature matches."""
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"))
        delivery_id, stamp = headers["webhook-id"], headers["webhook-timestamp"]
        signatures = headers["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    if abs(time.time() - int(stamp)) > tolerance_s:
        return False  # too old or from the future: a replay
    signed = f"{delivery_id}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        version == "v1" and hmac.compare_digest(expected, given)
        for version, _, given in (s.partition(",") for s in signatures)
    )


class WebhookReceiver:
    def __init__(self, *, fail_first: int = 0, fail_status: int = 503, hold_s: float = 0.0) -> None:
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.hold_s = hold_s
        self.requests: list[WebhookRequest] = []
        # Requests that arrived, before the answer is sent (set while the answer is held).
        self.arrived = threading.Event()
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> Self:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer_for(self, delivery_id: str) -> int:
        with self._lock:
            count = self._seen.get(delivery_id, 0)
            self._seen[delivery_id] = count + 1
        return self.fail_status if count < self.fail_first else 200

    def _record(self, request: WebhookRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def accepted(self) -> list[WebhookRequest]:
        """One 2xx request per delivery id: what a receiver deduplicating on webhook-id keeps."""
        kept: dict[str, WebhookRequest] = {}
        with self._lock:
            for request in self.requests:
                if 200 <= request.status < 300:
                    kept.setdefault(request.delivery_id, request)
        return list(kept.values())


def _handler_for(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(min(length, _MAX_BODY))
            headers = {name.lower(): value for name, value in self.headers.items()}
            status = receiver._answer_for(headers.get("webhook-id", ""))
            receiver._record(WebhookRequest(self.path, headers, body, status))
            receiver.arrived.set()
            if receiver.hold_s:
                time.sleep(receiver.hold_s)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler
