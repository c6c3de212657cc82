"""The shop and the back office in a real browser (Debian's Chromium, driven by Playwright),
against the real mesh behind the real gateway.

The browser tests themselves are TypeScript (web/tests/*.spec.ts, `npm run test:browser`): they
sign in through the pages (the gateway's development sign-in), make their own products and
customers with unique ids, and check each page with axe-core. This test builds the front end,
starts the stack, runs them and fails with their output. Screenshots: web/test-artifacts/.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from pathlib import Path

import pytest

from testkit.processes import Mesh
from tests.e2e.gateway_support import running_stack

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("OMS_CHROMIUM", "/usr/bin/chromium")
BUILD_TIMEOUT_S = 180
BROWSER_TIMEOUT_S = 600
STREAM_LIFETIME_S = 4


async def _run(*command: str, env: dict[str, str] | None = None, timeout_s: float) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        # Its own session: npm, Playwright's node and Chromium go together.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        output, _ = await process.communicate()
        return -1, output.decode(errors="replace") + f"\n(timed out after {timeout_s}s)"
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


def _keep(output: str) -> None:
    """The browser tests' report, beside their screenshots (pytest shows it only on failure)."""
    artifacts = REPO / "web" / "test-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "browser-tests.log").write_text(output, encoding="utf-8")


async def test_shop_and_back_office_in_chromium(mesh: Mesh) -> None:
    npm = shutil.which("npm")
    assert npm, "npm is needed for the browser tests (make deps)"
    assert shutil.which(CHROMIUM), f"no Chromium at {CHROMIUM}: `scripts/apt-install chromium=chromium`"
    code, output = await _run(npm, "run", "build", timeout_s=BUILD_TIMEOUT_S)
    assert code == 0, f"npm run build failed:\n{output}"

    async with running_stack(
        mesh,
        # No stock precheck: an order for more than the stock is placed and then REJECTED by the
        # saga (with the precheck it is refused at checkout, as when the stock is plainly short).
        order_env={"OMS_ORDER_STOCK_PRECHECK": "false"},
        # Streams end after a few seconds, so following an order across an admin's changes
        # proves the page reconnects a lost stream and misses nothing in between.
        gateway_env={"OMS_GATEWAY_STREAM_MAX_LIFETIME_S": str(STREAM_LIFETIME_S)},
    ) as stack:
        code, output = await _run(
            npm,
            "run",
            "test:browser",
            env={
                "OMS_WEB_BASE_URL": stack.gateway.base_url,
                "OMS_CHROMIUM": CHROMIUM,
                "OMS_WEB_STREAM_LIFETIME_S": str(STREAM_LIFETIME_S),
            },
            timeout_s=BROWSER_TIMEOUT_S,
        )
        _keep(output)
        assert code == 0, f"the browser tests failed:\n{output}\n--- gateway log ---\n{stack.gateway.tail()}"
        assert " passed" in output and " failed" not in output, output
