"""The CLI against in-memory fakes of the services (tests/unit/cli/fakes.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.unit.cli.fakes import FakeMesh, serve


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMesh]:
    server, mesh = serve()
    for name in [n for n in os.environ if n.startswith(("OMS_TLS_", "OMS_CLI_")) or n == "OMS_TOKEN"]:
        monkeypatch.delenv(name)
    for name, value in mesh.targets().items():
        monkeypatch.setenv(name, value)
    try:
        yield mesh
    finally:
        server.stop(grace=None)
