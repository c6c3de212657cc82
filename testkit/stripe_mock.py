"""stripe-mock, Stripe's own server for its API's shape, as a child process of a test.

stripe-mock answers every endpoint of Stripe's OpenAPI spec, rejects requests the spec does
not allow (unknown or ill-typed parameters) and answers with canned objects that reflect the
request's values. It keeps no state. ``fixtures`` replaces its canned objects, e.g. with a
PaymentIntent that is held (``requires_capture``) instead of its bundled unconfirmed one.

scripts/tools builds it into .oms/bin from tools/go/go.mod (``make deps``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BINARY = ROOT / ".oms" / "bin" / "stripe-mock"
# stripe-mock accepts any key shaped sk_test_<something without underscores>.
TEST_API_KEY = "sk_test_omsStripeMock"
_LISTENING = re.compile(r"Listening for HTTP at address: (\S+)")


def stripe_mock_binary() -> str:
    """The stripe-mock to run; fails, never skips, when it is missing."""
    if BINARY.is_file() and os.access(BINARY, os.X_OK):
        return str(BINARY)
    on_path = shutil.which("stripe-mock")
    if on_path:
        return on_path
    raise AssertionError(
        f"stripe-mock is not installed ({BINARY} is missing): run scripts/tools (part of `make deps`), "
        "which builds it from tools/go/go.mod"
    )


class StripeMock:
    """One stripe-mock on a loopback port the system chose; ``url`` once started."""

    def __init__(self, workdir: Path, *, fixtures: dict[str, Any] | None = None) -> None:
        self._workdir = workdir
        self._fixtures = fixtures
        self._log_path = workdir / "stripe-mock.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, *, timeout_s: float = 30.0) -> None:
        binary = stripe_mock_binary()
        self._workdir.mkdir(parents=True, exist_ok=True)
        # Port 0 on both listeners: the system picks free ports, so parallel tests never collide,
        # and the HTTPS one (which stripe-mock always opens) stays on loopback too.
        args = [binary, "-http-addr", "127.0.0.1:0", "-https-addr", "127.0.0.1:0"]
        if self._fixtures is not None:
            fixtures_path = self._workdir / "stripe-mock-fixtures.json"
            fixtures_path.write_text(json.dumps({"resources": self._fixtures}))
            args += ["-fixtures", str(fixtures_path)]
        env = {k: v for k, v in os.environ.items() if k != "PORT"}  # -port would read PORT
        with self._log_path.open("wb") as log:
            self._process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            self.url = f"http://{self._wait_listening(timeout_s)}"
            self._wait_answering(timeout_s)
        except BaseException:
            self.stop()
            raise

    def _wait_listening(self, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise AssertionError(f"stripe-mock exited with {self._process.returncode}:\n{self.tail()}")
            found = _LISTENING.search(self.tail())
            if found:
                return found.group(1)
            time.sleep(0.05)
        raise AssertionError(f"stripe-mock not listening within {timeout_s}s:\n{self.tail()}")

    def _wait_answering(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        headers = {"Authorization": f"Bearer {TEST_API_KEY}"}
        with httpx.Client(base_url=self.url, timeout=2.0, headers=headers) as client:
            while time.monotonic() < deadline:
                try:
                    reply = client.get("/v1/payment_intents/pi_ready")
                except httpx.TransportError as exc:
                    last = repr(exc)
                    time.sleep(0.05)
                    continue
                # Any answer means it serves; anything but 200 is a setup fault that waiting won't fix.
                assert reply.status_code == 200, f"stripe-mock answered {reply.status_code}: {reply.text[:300]}"
                return
        raise AssertionError(f"stripe-mock not answering within {timeout_s}s (last: {last}):\n{self.tail()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(FileNotFoundError):
            return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def __enter__(self) -> StripeMock:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
