"""Streamed answers: chunked audio and Server-Sent Events, honest about failures.

The first item is produced before the response starts, so a failure before any byte is an
ordinary error answer in the family's envelope. A failure after the first bytes cannot change
the status any more: it is logged once and the connection is dropped without the terminating
chunk, so the client sees a truncated body (curl exits 18) instead of a complete-looking one.
The response's ``close()`` (called by the WSGI server when the body ends, fails, or the client
goes away) closes the producer, which releases its upstream session.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from flask import Response, request

from ..errors import SpeechError
from .errors import ErrorInfo

log = logging.getLogger(__name__)

# The client socket, as WSGI servers expose it: gunicorn (every worker class) and werkzeug.
_SOCKET_KEYS = ("gunicorn.socket", "werkzeug.socket")


class StreamAborted(ConnectionAbortedError):
    """Raised from a body iterator when the server offers no socket to shut down.

    Servers treat an exception after the headers as the end of the connection and write no
    terminating chunk; as a ``ConnectionError`` with ``EPIPE`` it reads as a dropped client
    (werkzeug and gunicorn log it at most at debug level).
    """


def _close(*producers: object) -> None:
    """Close each distinct producer that can be closed (an iterable and its iterator)."""
    seen: list[object] = []
    for producer in producers:
        close = getattr(producer, "close", None)
        if close is not None and not any(producer is other for other in seen):
            seen.append(producer)
            close()


class _Body:
    """The WSGI response iterable around a producer: first item already taken, honest ending."""

    def __init__(
        self,
        source: Iterable[Any],
        first: Any,
        rest: Iterator[Any],
        encode: Callable[[Any], bytes],
        environ: Mapping[str, Any],
        on_error: Callable[[ErrorInfo], bytes] | None,
    ) -> None:
        self._source = source
        self._first = first
        self._rest = rest
        self._encode = encode
        self._environ = environ
        self._on_error = on_error
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield self._encode(self._first)
        try:
            for item in self._rest:
                yield self._encode(item)
        except Exception as exc:  # every failure ends the body the same honest way
            info = ErrorInfo.from_exception(exc)
            if isinstance(exc, SpeechError):
                log.warning("stream aborted after its first bytes (%s): %s", info.code, info.message)
            else:
                log.error("stream aborted after its first bytes", exc_info=exc)
            self.close()
            if self._on_error is not None:
                yield self._on_error(info)
                return
            self._drop_connection()

    def _drop_connection(self) -> None:
        """Make the terminating chunk impossible: shut the client socket down, or raise."""
        for key in _SOCKET_KEYS:
            shutdown = getattr(self._environ.get(key), "shutdown", None)
            if callable(shutdown):
                with contextlib.suppress(OSError):  # OSError: the client is gone already
                    shutdown(socket.SHUT_RDWR)
                return
        raise StreamAborted(errno.EPIPE, "stream aborted after its first bytes")

    def close(self) -> None:
        """Close the producer once (releases the upstream session); safe to call again."""
        if not self._closed:
            self._closed = True
            _close(self._rest, self._source)


def _start(items: Iterable[Any]) -> tuple[Any, Iterator[Any]] | None:
    """The first item and the rest; ``None`` if there is none. A failure here propagates."""
    rest = iter(items)
    try:
        return next(rest), rest
    except StopIteration:
        _close(rest, items)
        return None
    except BaseException:
        _close(rest, items)
        raise


def audio_response(
    chunks: Iterable[bytes], mimetype: str, headers: Mapping[str, str] | None = None
) -> Response:
    """A chunked answer of ``chunks`` as they come (an empty body if there are none).

    Call it inside the request: it takes the first chunk now (so errors before any byte are
    normal error answers), and the rest while the server writes the body.
    """
    started = _start(chunks)
    if started is None:
        return Response(b"", mimetype=mimetype, headers=dict(headers or {}))
    body = _Body(chunks, *started, bytes, request.environ, None)
    return Response(body, mimetype=mimetype, headers=dict(headers or {}), direct_passthrough=True)


def sse_event(data: Mapping[str, Any], event: str | None = None) -> bytes:
    """One Server-Sent Event: ``data: <json>`` (after ``event: <name>`` if given), blank line."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def sse_response(
    events: Iterable[Mapping[str, Any]],
    headers: Mapping[str, str] | None = None,
    on_error: Callable[[ErrorInfo], Mapping[str, Any]] | None = None,
) -> Response:
    """``events`` as Server-Sent Events (``text/event-stream``), each a ``data:`` line of JSON.

    A failure before the first event is a normal error answer. After it: with ``on_error``,
    the family's error event (``on_error(info)``) ends the stream; without it, the
    connection is dropped like a failed audio stream.
    """
    base = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **dict(headers or {})}
    started = _start(events)
    if started is None:
        return Response(b"", mimetype="text/event-stream", headers=base)
    render = (lambda info: sse_event(on_error(info))) if on_error is not None else None
    body = _Body(events, *started, sse_event, request.environ, render)
    return Response(body, mimetype="text/event-stream", headers=base, direct_passthrough=True)
