"""The ``Server-Timing`` header on every answer: where the request's time went, readable in a
browser's developer tools or a curl trace without any metrics system.

Each request gets its own :class:`~speech_realtime.timings.Timings` before any other hook runs;
the session runner, the pool and the encoder add to it (session slot wait, upstream connect
with ``pooled`` or ``new``, time to the first upstream delta, audio encoding), and the header is
written when the answer's headers are: for a stream, after its first chunk was produced, so it
holds the parts known before the first byte.
"""

from __future__ import annotations

from flask import Flask, Response, g

from .. import timings

HEADER = "Server-Timing"


def _begin() -> None:
    g.timings, g.timings_token = timings.begin()


def _answer(response: Response) -> Response:
    spent = g.get("timings")
    if spent is not None:
        response.headers[HEADER] = spent.header()
    return response


def _end(_exc: BaseException | None) -> None:
    token = g.pop("timings_token", None)
    if token is not None:
        timings.end(token)


def install(app: Flask) -> None:
    """``Server-Timing`` on every answer of ``app``: first of its before-request hooks."""
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request(_answer)
    app.teardown_request(_end)
