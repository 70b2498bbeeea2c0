"""``/openapi.json`` and ``/docs``: the service's contract, and Swagger UI showing it.

The document is written by :func:`.contract.document.openapi_document` from the declarations
the routes validate with, once per app. Swagger UI's files come from the
``swagger-ui-bundle-v2`` package (Swagger UI 5, which renders OpenAPI 3.1) and are served
here, so the page needs no CDN. Who may call these is the security hook's business
(operations paths: a key when keys are set, unless ``SPEECH_OPS_OPEN``).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, send_from_directory
from swagger_ui_bundle import swagger_ui_path
from werkzeug.exceptions import NotFound

from .contract import ops as contract
from .contract.document import openapi_document
from .contract.operations import documented

openapi = Blueprint("openapi", __name__)

#: The app's ``extensions`` key of its document (written on first use: the routes are final).
DOCUMENT = "openapi_document"
#: The Swagger UI files the page loads.
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png"})

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>speech-realtime API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/favicon-32x32.png" sizes="32x32">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui"});</script>
</body>
</html>
"""


@openapi.get("/openapi.json")
@documented(contract.OPENAPI)
def document() -> Response:
    if DOCUMENT not in current_app.extensions:
        current_app.extensions[DOCUMENT] = openapi_document(current_app)
    return jsonify(current_app.extensions[DOCUMENT])


@openapi.get("/docs")
@documented(contract.DOCS)
def docs() -> Response:
    return Response(PAGE, mimetype="text/html")


@openapi.get("/docs/<asset>")
@documented(contract.DOCS_ASSET)
def docs_asset(asset: str) -> Response:
    if asset not in ASSETS:
        raise NotFound(f"no asset {asset[:60]!r}")
    return send_from_directory(swagger_ui_path, asset, max_age=3600)
