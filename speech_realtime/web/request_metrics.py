"""Per-request metrics: count and time every answer by family, route and status.

An answer is counted when it is ready, or for a streamed body when the server closes it (the
last chunk written, or the client gone), so a stream's duration is the whole stream; streamed
bodies also report their time to first byte. WebSocket upgrades (Azure Speech SDK sockets) run
inside the request: they are counted with status 101 when the socket ends, and are the open
SDK sockets gauge meanwhile.

Route is the URL rule (``/v1/audio/speech``), never the raw path, so the label set stays small;
a path no rule matched is ``<unmatched>``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

from flask import Flask, Response, g, request

from .. import metrics
from ..logs import REQUEST_ID
from .request_ids import current, is_websocket

#: API family of each blueprint; a blueprint not listed is its own family.
FAMILIES = {
    "speech_api": "reference",
    "speech_api_legacy": "reference",
    "azure_speech": "azure",
    "azure_sdk": "azure-sdk",
    "openai_audio": "openai",
    "ops": "ops",
}
UNMATCHED = "<unmatched>"


def family() -> str:
    """The API family of the current request (``none`` when no route matched)."""
    blueprint = request.blueprint
    if blueprint is None:
        return "none"
    return FAMILIES.get(blueprint.split(".")[0], blueprint)


def route() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED


class _ObservedBody:
    """A streamed body that reports its first byte and its end, and runs under the request's id.

    Streamed answers are passed through (``direct_passthrough``), so the server closes this
    body itself rather than the response: the request is counted here, once.
    """

    def __init__(
        self, body: Any, started: float, labels: tuple[str, str], status: int, request_id: str
    ) -> None:
        self._body = body
        self._status = status
        self._closed = False
        self._items: Iterator[bytes] | None = None
        self._started = started
        self._labels = labels
        self._request_id = request_id
        self._first = True

    def __iter__(self) -> _ObservedBody:
        return self

    def __next__(self) -> bytes:
        token = REQUEST_ID.set(self._request_id)
        try:
            if self._items is None:
                self._items = iter(self._body)
            chunk = next(self._items)
        finally:
            REQUEST_ID.reset(token)
        if self._first and chunk:
            self._first = False
            metrics.first_byte(*self._labels, time.perf_counter() - self._started)
        return chunk

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        token = REQUEST_ID.set(self._request_id)
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            REQUEST_ID.reset(token)
            metrics.request_done(*self._labels, self._status, time.perf_counter() - self._started)


def _begin() -> None:
    g.metrics_started = time.perf_counter()
    if is_websocket() and family() == "azure-sdk":
        stack = ExitStack()
        stack.enter_context(metrics.sdk_socket())
        g.metrics_socket = stack


def _answer(response: Response) -> Response:
    if is_websocket():
        return response  # counted at teardown: the socket's answer never passes through here
    started = g.get("metrics_started", time.perf_counter())
    labels = (family(), route())
    status = response.status_code
    if response.is_streamed and response.direct_passthrough:
        response.response = _ObservedBody(response.response, started, labels, status, current())
    else:  # the body is complete: writing it is the server's business
        metrics.request_done(*labels, status, time.perf_counter() - started)
    return response


def _end(_exc: BaseException | None) -> None:
    socket: ExitStack | None = g.pop("metrics_socket", None)
    if socket is not None:
        socket.close()
    if is_websocket() and "metrics_started" in g:
        metrics.request_done(family(), route(), 101, time.perf_counter() - g.metrics_started)


def install(app: Flask) -> None:
    """Count and time every answer of ``app``."""
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request(_answer)
    app.teardown_request(_end)
