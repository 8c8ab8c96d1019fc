"""Interactive API docs served with bundled assets: the machine (or a client's network) may have no internet.

The page carries no inline script: Swagger UI's bundle and its start-up code (`static/swagger-init.js`) are
files served from here, so `/docs` runs under a strict CSP (`script-src 'self'`, `frame-ancestors 'none'`).
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
OWN_ASSETS = Path(__file__).parent / "static"

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link type="text/css" rel="stylesheet" href="/docs/static/swagger-ui.css">
<link rel="icon" href="/docs/static/favicon.png">
<title>BondFlow API</title>
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-init.js"></script>
</body>
</html>
"""


def install_docs(app: FastAPI) -> None:
    app.mount("/docs/static", StaticFiles(directory=ASSETS), name="docs-static")
    app.mount("/docs/assets", StaticFiles(directory=OWN_ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(PAGE)
