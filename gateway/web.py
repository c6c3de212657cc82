"""The browser front end (web/): the shop at ``/``, the back office at ``/admin``, their assets.

The pages are the Vite build output (``npm run build`` writes web/dist; ``make run`` builds it
when it is missing or older than its sources). The app routes inside a page with the URL's
fragment (``/#/orders/o-1``, ``/admin#/stock``), because the API already owns paths such as
``/products`` and ``/admin/order/dead-letters``: only ``/``, ``/admin``, ``/shop/...`` and
``/assets/...`` are the front end's, and nothing under them is an API route.

Caching: asset names carry a content hash, so they are cached for a year and never revalidated;
the two HTML pages are revalidated on every load (``no-cache``), so a new build shows at once.
The pages get a strict Content-Security-Policy: everything from this origin, nothing inline.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# Prefix paths the front end owns (everything under them) and exact ones (nothing under them:
# /admin/<service>/dead-letters is the API's).
WEB_PREFIXES = ("/assets", "/shop")
WEB_EXACT = ("/", "/admin", "/favicon.svg")

PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
ASSET_CACHE = "public, max-age=31536000, immutable"
Handler = Callable[[Request], Awaitable[Response]]

_NOT_BUILT = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>OMS shop: not built</title></head>
<body><main><h1>The web front end is not built</h1>
<p>Run <code>npm run build</code> (or <code>make run</code>, which builds it) and reload.</p></main></body></html>
"""

# The platform's table may lack or misname these; browsers refuse module scripts served otherwise.
for _type, _suffix in (
    ("text/javascript", ".js"),
    ("text/javascript", ".mjs"),
    ("text/css", ".css"),
    ("image/svg+xml", ".svg"),
    ("font/woff2", ".woff2"),
    ("application/json", ".map"),
):
    mimetypes.add_type(_type, _suffix)


def is_web_path(path: str) -> bool:
    return path in WEB_EXACT or any(path == p or path.startswith(p + "/") for p in WEB_PREFIXES)


class _Assets(StaticFiles):
    """Hashed build assets: cached for good, with the page's nosniff."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = ASSET_CACHE
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def web_routes(dist: Path) -> list[BaseRoute]:
    """``dist`` is the build output; read at each request, so a rebuild needs no restart."""

    def page(name: str) -> Handler:
        async def serve(request: Request) -> Response:
            file = dist / name
            if not file.is_file():
                return HTMLResponse(_NOT_BUILT, status_code=503, headers=PAGE_HEADERS)
            return FileResponse(file, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

        return serve

    shop, admin = page("index.html"), page("admin.html")
    return [
        Route("/", shop, methods=["GET", "HEAD"]),
        # Deep links of the shop (/shop, /shop/anything) load the shop page: an SPA fallback.
        Route("/shop", shop, methods=["GET", "HEAD"]),
        Route("/shop/{rest:path}", shop, methods=["GET", "HEAD"]),
        Route("/admin", admin, methods=["GET", "HEAD"]),
        Route("/favicon.svg", page_file(dist, "favicon.svg", "image/svg+xml"), methods=["GET", "HEAD"]),
        Mount("/assets", app=_Assets(directory=dist / "assets", check_dir=False), name="web-assets"),
    ]


def page_file(dist: Path, name: str, media_type: str) -> Handler:
    async def serve(request: Request) -> Response:
        file = dist / name
        if not file.is_file():
            return Response(status_code=404)
        return FileResponse(file, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})

    return serve
