"""A development SMS gateway: accepts every text message, appends it to a JSONL file, logs it.

    python -m notify_svc.dev_sms --port 1026 --out .oms/sms.jsonl

It speaks what ``adapters.sms_channel`` sends (a JSON POST with id, to, from, text) and keeps
each message id once, as a real gateway honouring the idempotency key would. Tests run
``SmsSink`` in a thread and read ``received``.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

from mesh.telemetry.logs import configure_logging

log = logging.getLogger("notify_svc.dev_sms")
_MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class ReceivedSms:
    message_id: str
    to: str
    sender: str
    text: str


class SmsSink:
    """The gateway's state: what it received (once per message id), optionally a JSONL file."""

    def __init__(self, out: Path | None = None) -> None:
        self.received: list[ReceivedSms] = []
        self._ids: set[str] = set()
        self._out = out
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def accept(self, body: dict[str, object]) -> bool:
        message = ReceivedSms(str(body["id"]), str(body["to"]), str(body.get("from", "")), str(body["text"]))
        with self._lock:
            if message.message_id in self._ids:
                return False
            self._ids.add(message.message_id)
            self.received.append(message)
            if self._out is not None:
                with self._out.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(body, ensure_ascii=False) + "\n")
        log.info("sms to=%s id=%s text=%r", message.to, message.message_id, message.text)
        return True

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Self:
        """Starts serving on a thread of its own; ``url`` is where the channel should POST."""
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        threading.Thread(target=self._server.serve_forever, name="dev-sms", daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None, "not serving"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/messages"

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()


def _handler_for(sink: SmsSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if not 0 < length <= _MAX_BODY:
                self._answer(413 if length else 400, {"error": "a JSON body of at most 64 KiB"})
                return
            try:
                body = json.loads(self.rfile.read(length))
                new = sink.accept(body)
            except (ValueError, KeyError, TypeError) as exc:
                self._answer(400, {"error": f"not an SMS: {exc}"})
                return
            self._answer(201 if new else 200, {"id": body["id"], "duplicate": not new})

        def _answer(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return  # one line per message is logged by the sink itself

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m notify_svc.dev_sms", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1026)
    parser.add_argument("--out", type=Path, default=None, help="append every message here (JSON lines)")
    args = parser.parse_args(argv)
    configure_logging("dev-sms", fmt="text")
    sink = SmsSink(args.out).serve(args.host, args.port)
    log.info("dev SMS gateway listening on %s", sink.url)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sink.close()


if __name__ == "__main__":
    main()
