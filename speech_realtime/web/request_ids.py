"""``X-Request-ID``: honoured when valid, else generated, on every answer and every log line.

A caller's id is kept when it is at most 128 characters of ``[A-Za-z0-9._:-]`` (what proxies
and tracing systems send, and nothing a log line could be forged with); otherwise a new one
(uuid4 hex) is made. The hook runs before every other ``before_request`` hook, so answers those
hooks give (a refused key, a wrong Origin) carry it too. The id is put in
:data:`speech_realtime.logs.REQUEST_ID` for the request's thread, so every log line of the
request carries it; streamed bodies set it again while the server pulls each chunk (see
:mod:`.request_metrics`). WebSocket upgrades cannot carry it in the 101 (flask-sock writes that
answer itself), so it is logged when the socket opens, with the SDK's ``X-ConnectionId``.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import Token

from flask import Flask, Response, g, request

from ..logs import REQUEST_ID, tag_records

log = logging.getLogger(__name__)

HEADER = "X-Request-ID"
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: The Speech SDK's connection id: 32 hex digits (a dashed UUID from some clients).
_CONNECTION_ID = re.compile(r"[0-9A-Fa-f-]{1,64}")


def request_id_for(value: str | None) -> str:
    """``value`` if it is a valid request id, else a new one."""
    if value is not None and _VALID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def current() -> str:
    """The current request's id (made now if the request has none yet)."""
    if "request_id" not in g:
        g.request_id = request_id_for(request.headers.get(HEADER))
    return g.request_id


def _begin() -> None:
    g.request_id_token = REQUEST_ID.set(current())
    if is_websocket():
        _log_socket()


def _answer(response: Response) -> Response:
    response.headers[HEADER] = current()
    return response


def _end(_exc: BaseException | None) -> None:
    token: Token[str] | None = g.pop("request_id_token", None)
    if token is not None:
        REQUEST_ID.reset(token)


def is_websocket() -> bool:
    """Whether the current request asks for a WebSocket upgrade."""
    return request.headers.get("Upgrade", "").strip().lower() == "websocket"


def _log_socket() -> None:
    """An upgrade: its path and the SDK's connection id (header or, from browsers, query)."""
    connection = request.headers.get("X-ConnectionId") or request.args.get("X-ConnectionId") or ""
    shown = connection if _CONNECTION_ID.fullmatch(connection) else "-"
    log.info("websocket upgrade %s X-ConnectionId=%s", request.path, shown)


def install(app: Flask) -> None:
    """Request ids on ``app``: first of its before-request hooks, on every answer and log line."""
    tag_records()
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request(_answer)
    app.teardown_request(_end)
