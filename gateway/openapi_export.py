"""``python -m gateway.openapi_export [FILE]``: the gateway's /openapi.json, built offline.

The same document the running gateway serves (same bindings, same proto comments, auth on),
without a server or any upstream, so the web front end's API types (web/src/api/schema.d.ts,
``npm run gen:api``) are generated deterministically from the contracts alone. Without FILE the
document goes to stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from gateway.descriptors import discover
from gateway.openapi import build_document
from gateway.proto_comments import load_comments
from gateway.settings import GatewaySettings


def document() -> dict[str, Any]:
    settings = GatewaySettings()
    return build_document(discover(settings.upstreams()), load_comments(settings.proto_path), auth_enabled=True)


def text() -> str:
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        sys.stderr.write("usage: python -m gateway.openapi_export [FILE]\n")
        return 2
    if argv:
        Path(argv[0]).write_text(text(), encoding="utf-8")
    else:
        sys.stdout.write(text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
