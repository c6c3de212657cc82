"""``python -m gateway``: validates the settings, then serves the app with uvicorn."""

from __future__ import annotations

import logging
import sys

import uvicorn

from gateway.app import create_app
from gateway.settings import GatewaySettings
from mesh.auth import AuthSettings
from mesh.settings import SettingsError, load


def main() -> int:
    try:
        settings = load(GatewaySettings)
        auth = load(AuthSettings)
    except SettingsError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        app = create_app(settings, auth)
    except ValueError as exc:  # e.g. no usable JWT algorithm for the configured keys
        sys.stderr.write(f"bad setting: {exc}\n")
        return 2
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level, proxy_headers=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
