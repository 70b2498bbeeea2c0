"""The demo page at ``/`` and the one endpoint it gets its credentials from.

The page (``static/demo``: plain HTML, JavaScript and CSS, no build step, nothing from a CDN)
records and transcribes, speaks a streamed synthesis as it arrives, and holds a live conversation
over the relay. It never holds a key: ``POST /demo/session`` gives it a signed token that
expires in :data:`SESSION_LIFETIME` seconds, which it sends as ``Authorization: Bearer`` to the
reference routes (security accepts issued tokens there), and a Realtime client secret
(:mod:`~speech_realtime.realtime.client_secrets`: single use, :data:`SECRET_LIFETIME` seconds)
that it offers on the relay's upgrade as the ``openai-insecure-api-key.`` subprotocol, as
OpenAI's browser clients pass a key. That endpoint answers only a same-origin
request (an ``Origin`` naming this service itself), so another site's page cannot take tokens
from a visitor's local service; the security hook lets it, the page and its files through
without a key while the demo is enabled (``SPEECH_DEMO``, see :attr:`Settings.demo_enabled`).
The tokens all name one caller, :data:`DEMO_CALLER`, so ``SPEECH_MAX_SESSIONS_PER_KEY`` caps the
sessions every demo visitor holds together.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, jsonify, request, send_from_directory
from werkzeug.exceptions import NotFound

from ..realtime import client_secrets
from ..tokens import issue_token
from .contract.operations import documented
from .contract.realtime import DEMO_FILE, DEMO_PAGE, DEMO_SESSION
from .relay import PATHS as RELAY_PATHS
from .relay import SUBPROTOCOL as RELAY_PROTOCOL
from .security import KEY_SUBPROTOCOL, POLICY, TOKEN_SECRET, Forbidden, Policy

demo = Blueprint("demo", __name__)

#: The page's files (``static/demo``), served at ``/demo/<name>``.
FILES = Path(__file__).parent / "static" / "demo"
FILE_NAMES = frozenset(path.name for path in FILES.iterdir() if path.suffix in (".js", ".css", ".html"))

#: Seconds a demo token is valid (the page asks for a new one before it runs out).
SESSION_LIFETIME = 300
#: Seconds a relay client secret is valid: it is used at once, on the upgrade that follows.
SECRET_LIFETIME = 60
#: The caller every demo token names (one shared cap under ``SPEECH_MAX_SESSIONS_PER_KEY``).
DEMO_CALLER = "demo"
#: The seed-004 relay path the page converses on (the one the seed's front end uses).
RELAY_PATH = RELAY_PATHS[0]


@demo.before_request
def _enabled() -> None:
    """Every demo route (the page, its files, the session endpoint) is a 404 when disabled."""
    policy: Policy = current_app.extensions[POLICY]
    if not policy.demo:
        raise NotFound()


@demo.get("/")
@documented(DEMO_PAGE)
def page() -> Response:
    response = send_from_directory(FILES, "index.html")
    response.headers["Cache-Control"] = "no-cache"
    return response


@demo.get("/demo/<name>")
@documented(DEMO_FILE)
def file(name: str) -> Response:
    """One of the page's files (only those: nothing else of the package is reachable)."""
    if name not in FILE_NAMES:
        raise NotFound()
    return send_from_directory(FILES, name)


@demo.post("/demo/session")
@documented(DEMO_SESSION)
def session() -> Response:
    """A short-lived token for the page's REST calls, and a one-time secret for its relay."""
    _check_same_origin()
    now = int(time.time())
    signing = current_app.extensions[TOKEN_SECRET]
    token = issue_token(signing, subject=DEMO_CALLER, lifetime=SESSION_LIFETIME, now=now)
    secret, _ = client_secrets.mint(signing, {}, caller=DEMO_CALLER, seconds=SECRET_LIFETIME, now=now)
    response = jsonify(
        {
            "token": token,
            "expires_at": now + SESSION_LIFETIME,
            "relay": {
                "path": RELAY_PATH,
                "protocols": [RELAY_PROTOCOL, KEY_SUBPROTOCOL + secret],
                "expires_at": now + SECRET_LIFETIME,
            },
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _check_same_origin() -> None:
    """Only the page itself may ask: its ``Origin`` must name this service's host (the scheme
    is not compared, as security's same-origin rule does not: a TLS proxy may sit in front).

    Browsers send ``Origin`` on every ``POST`` made by ``fetch``; a request without one is not
    the page's. (A non-browser client can write any ``Origin``: what this stops is another site's
    page, see docs/demo.md.)
    """
    origin = urlsplit(request.headers.get("Origin", "").lower().rstrip("/"))
    if not origin.netloc or origin.netloc != request.host.lower():
        raise Forbidden("the demo session is given only to the service's own page (same origin)")
