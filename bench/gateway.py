"""The HTTP gateway against direct gRPC: ``GET /orders/{id}`` and ``POST /orders`` (wrk vs ghz)."""

from __future__ import annotations

from typing import Any

from tests.support.infra import Infra


class GatewayResult:
    def as_dict(self) -> dict[str, Any]:
        raise NotImplementedError


async def run(infra: Infra) -> GatewayResult:
    raise NotImplementedError("bench gateway: being written")


def markdown(result: GatewayResult, *, when: str) -> str:
    raise NotImplementedError
