"""``/openapi.json`` and the Swagger UI at ``/docs``, served offline from ``swagger-ui-bundle``."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from gateway.context import gateway_of

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>OMS mesh API</title>
  <link rel="stylesheet" href="{root}/docs/static/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{root}/docs/static/swagger-ui-bundle.js"></script>
  <script src="{root}/docs/static/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({{
      url: "{root}/openapi.json",
      dom_id: "#swagger-ui",
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "StandaloneLayout",
      persistAuthorization: true
    }});
  </script>
</body>
</html>
"""


async def openapi_json(request: Request) -> Response:
    document = gateway_of(request).openapi
    if document is None:
        return Response('{"code":14,"message":"starting","details":[]}', 503, media_type="application/json")
    return Response(json.dumps(document, separators=(",", ":")), media_type="application/json")


async def docs_page(request: Request) -> Response:
    return HTMLResponse(_PAGE.format(root=request.scope.get("root_path", "")))


def static_assets() -> Mount:
    return Mount("/docs/static", app=StaticFiles(directory=Path(swagger_ui_path)), name="swagger-ui")
