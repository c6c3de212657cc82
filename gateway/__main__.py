"""``python -m gateway``: validates the settings, then serves the app with uvicorn."""

from __future__ import annotations

import sys

import uvicorn

from gateway.app import create_app
from gateway.log_redaction import redact_logs
from gateway.settings import GatewaySettings
from mesh.auth.settings import load_auth
from mesh.auth.tls import TlsSettings
from mesh.settings.common import SettingsError, load
from mesh.telemetry.logs import LogSettings, configure_logging
from mesh.telemetry.tracing import setup_tracing


def main() -> int:
    try:
        settings = load(GatewaySettings)
        auth = load_auth()
        logs = load(LogSettings)
        tls = load(TlsSettings)
    except SettingsError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    # JSON lines with trace and span ids, like every service (OMS_LOG_FORMAT=text for people).
    configure_logging("gateway", fmt=logs.format, level=settings.log_level)
    # The access log prints query strings, where SSE clients carry their token.
    redact_logs()
    setup_tracing("gateway")
    try:
        app = create_app(settings, auth, tls)
    except ValueError as exc:  # e.g. no usable JWT algorithm for the configured keys
        sys.stderr.write(f"bad setting: {exc}\n")
        return 2
    # HTTPS when OMS_GATEWAY_TLS_CERT_FILE/_KEY_FILE are set (uvicorn: None means plain HTTP).
    https = settings.tls_cert_file is not None
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        proxy_headers=False,
        log_config=None,
        ssl_certfile=str(settings.tls_cert_file) if https else None,
        ssl_keyfile=str(settings.tls_key_file) if https else None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
