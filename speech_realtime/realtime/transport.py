"""The WebSocket connection to a Realtime service: URLs, handshake, timeouts, error translation.

The only module that imports ``websocket``. Every failure leaves it as one of the service's
exceptions, with the handshake status kept (and ``Retry-After`` for 429); a configuration that
cannot give a URL is a :class:`ConfigError`.
"""

from __future__ import annotations

import contextlib
import json
import math
import select
import socket
import ssl
import struct
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import websocket

from ..config import Backend, Settings
from ..errors import (
    ConfigError,
    RateLimited,
    UpstreamAuth,
    UpstreamConfig,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from .events import GA, PREVIEW, Dialect

#: The longest ``Retry-After`` passed on to clients (seconds); longer or odd values are clamped.
MAX_RETRY_AFTER = 3600


@dataclass(frozen=True)
class Endpoint:
    """Where and how a backend's Realtime sessions are opened."""

    backend: Backend
    url: str
    dialect: Dialect
    model: str

    @property
    def host(self) -> str:
        """``host[:port]``, for messages and ``check()``: never the URL's user information,
        which may hold a credential."""
        return urlsplit(self.url).netloc.rpartition("@")[2]


def _ws_base(http_url: str) -> str:
    parts = urlsplit(http_url.strip())
    scheme = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ConfigError(f"not an http(s) URL: {http_url!r}")
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def endpoint_for(settings: Settings) -> Endpoint:
    """The Realtime endpoint for the configured backend; :class:`ConfigError` if there is none."""
    if settings.backend == Backend.AZURE:
        base = _ws_base(settings.azure_endpoint or "")
        deployment = quote(settings.azure_deployment, safe="")
        if settings.dialect == PREVIEW:
            version = quote(settings.azure_api_version or "", safe="")
            url = f"{base}/openai/realtime?api-version={version}&deployment={deployment}"
        else:
            url = f"{base}/openai/v1/realtime?model={deployment}"
        return Endpoint(Backend.AZURE, url, Dialect(settings.dialect), settings.azure_deployment)
    if settings.backend == Backend.OPENAI:
        url = f"{_ws_base(settings.openai_base_url)}/realtime?model={quote(settings.openai_model)}"
        return Endpoint(Backend.OPENAI, url, GA, settings.openai_model)
    if not settings.engine_url:
        raise ConfigError("the local backend needs the engine's URL (SPEECH_ENGINE_URL)")
    url = f"{_ws_base(settings.engine_url)}/v1/realtime?model={quote(settings.model)}"
    return Endpoint(Backend.LOCAL, url, GA, settings.model)


def transcription_endpoint_for(settings: Settings) -> Endpoint | None:
    """The endpoint of the transcription-only deployment, or None when none is configured.

    The connection asks for a transcription session with ``intent=transcription``. Azure routes
    by deployment, so its URLs name the transcription deployment (preview ``deployment=``, GA
    ``model=``); OpenAI's takes the model in the session instead, so its URL names none.
    """
    name = settings.transcription_deployment
    if not name:
        return None
    quoted = quote(name, safe="")
    if settings.backend == Backend.AZURE:
        base = _ws_base(settings.azure_endpoint or "")
        if settings.dialect == PREVIEW:
            version = quote(settings.azure_api_version or "", safe="")
            url = f"{base}/openai/realtime?api-version={version}&intent=transcription&deployment={quoted}"
        else:
            url = f"{base}/openai/v1/realtime?intent=transcription&model={quoted}"
        return Endpoint(Backend.AZURE, url, Dialect(settings.dialect), name)
    if settings.backend == Backend.OPENAI:
        url = f"{_ws_base(settings.openai_base_url)}/realtime?intent=transcription"
        return Endpoint(Backend.OPENAI, url, GA, name)
    if not settings.engine_url:
        raise ConfigError("the local backend needs the engine's URL (SPEECH_ENGINE_URL)")
    url = f"{_ws_base(settings.engine_url)}/v1/realtime?intent=transcription"
    return Endpoint(Backend.LOCAL, url, GA, name)


def retry_after(value: str | None, *, now: float | None = None) -> int:
    """Seconds from a ``Retry-After`` header (delay or HTTP date), clamped to 0..MAX_RETRY_AFTER.

    Absent or unreadable: 1. ``inf``, ``nan``, negative and huge values never escape as a 500
    or as an absurd header.
    """
    if value is None or not value.strip():
        return 1
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return 1
        if when.tzinfo is None:
            return 1
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return 1
    return math.ceil(min(max(seconds, 0.0), MAX_RETRY_AFTER))


def _header(headers: Any, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if str(key).lower() == name:
            return str(value)
    return None


def _handshake_error(exc: websocket.WebSocketBadStatusException) -> Exception:
    status = exc.status_code
    if status in (401, 403):
        return UpstreamAuth(f"upstream refused the credentials (HTTP {status})")
    if status == 404:
        return UpstreamConfig(f"upstream does not know the deployment or model (HTTP {status})")
    if status == 429:
        return RateLimited(
            "upstream rate limit reached (HTTP 429)",
            retry_after=retry_after(_header(exc.resp_headers, "retry-after")),
            transient=True,
        )
    return UpstreamError(f"upstream refused the WebSocket handshake (HTTP {status})", transient=status >= 500)


class Connection:
    """One open Realtime WebSocket. Use as a context manager so it is always closed.

    Requests use :meth:`receive` (idle timeout and a deadline); long-lived duplex users (relay,
    pass-through) use :meth:`receive_idle`, :meth:`ping` and :attr:`close_reason`. Pings from
    the server are answered inside the receive calls. One thread may receive while another
    sends; :meth:`abort` wakes a receiving thread from any other.
    """

    def __init__(self, ws: websocket.WebSocket) -> None:
        self._ws = ws
        #: (status, reason) of the close frame the server sent, once it has closed.
        self.close_reason: tuple[int, str] | None = None
        #: whether :meth:`abort` ended it (the failure that follows is ours, not the upstream's)
        self.aborted = False
        #: messages received since it was opened (or handed over by the pool)
        self.received = 0
        #: handed over by the pool (:mod:`.pool`) rather than opened for the session
        self.pooled = False
        self._replayed: list[str | bytes] = []

    @classmethod
    def open(cls, endpoint: Endpoint, headers: dict[str, str], *, timeout: float) -> Connection:
        """Connect and complete the handshake within ``timeout`` seconds."""
        header = dict(headers)
        if endpoint.dialect == PREVIEW:
            header["OpenAI-Beta"] = "realtime=v1"
        try:
            ws = websocket.create_connection(
                endpoint.url,
                header=header,
                timeout=timeout,
                enable_multithread=True,
                suppress_origin=True,
                # its validation is pure Python (70% of a worker's CPU per request, measured);
                # _receive's strict decode checks the same thing in C
                skip_utf8_validation=True,
            )
        except websocket.WebSocketBadStatusException as exc:
            raise _handshake_error(exc) from None
        except (websocket.WebSocketTimeoutException, TimeoutError):
            raise UpstreamTimeout(f"connecting to {endpoint.host} timed out") from None
        except ssl.SSLError as exc:
            raise UpstreamUnavailable(f"TLS with {endpoint.host} failed: {exc.reason}") from None
        except (OSError, websocket.WebSocketException) as exc:
            reason = type(exc).__name__
            raise UpstreamUnavailable(f"cannot reach {endpoint.host} ({reason})") from None
        return cls(ws)

    def send(self, event: dict[str, Any]) -> None:
        try:
            self._ws.send(json.dumps(event, separators=(",", ":")))
        except (OSError, websocket.WebSocketException):
            raise UpstreamError(
                "upstream closed the connection while we were sending", transient=not self.aborted
            ) from None

    def receive(self, deadline: float, idle: float) -> str | bytes:
        """The next message, waiting at most ``idle`` seconds and no later than ``deadline``."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise UpstreamTimeout("upstream did not finish within the request deadline")
        try:
            return self._receive(min(idle, remaining))
        except UpstreamTimeout:
            if idle < remaining:
                raise
            raise UpstreamTimeout("upstream did not finish within the request deadline") from None

    def receive_idle(self, idle: float | None) -> str | bytes:
        """The next message, waiting at most ``idle`` seconds (None: until one comes)."""
        return self._receive(idle)

    def replay(self, message: str | bytes) -> None:
        """Have the next receive return ``message`` (already read) before anything on the wire:
        the pool gives its sessions' ``session.created`` back, so that whoever takes one sees
        what a fresh connection shows."""
        self._replayed.append(message)

    def _receive(self, timeout: float | None) -> str | bytes:
        if self._replayed:
            return self._replayed.pop(0)
        self._ws.settimeout(timeout)
        try:
            opcode, frame = self._ws.recv_data_frame()
        except (websocket.WebSocketTimeoutException, TimeoutError):
            raise UpstreamTimeout(f"upstream sent nothing for {timeout:g} s") from None
        except (OSError, websocket.WebSocketException, AttributeError):
            self.release()
            raise self._early_close() from None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            self.close_reason = _close_reason(frame.data)
            self.release()
            raise self._early_close()
        self.received += 1
        if opcode != websocket.ABNF.OPCODE_TEXT:
            return frame.data
        try:
            return frame.data.decode("utf-8")
        except UnicodeDecodeError:
            self.release()  # RFC 6455 8.1: a text message that is not UTF-8 fails the connection
            raise UpstreamError("upstream sent a text message that is not UTF-8") from None

    def fileno(self) -> int:
        """The socket's descriptor, for ``select`` (-1 once it is released)."""
        sock = self._ws.sock
        return sock.fileno() if sock is not None else -1

    def pending(self) -> bool:
        """Whether something (a message, a ping, a close) is waiting to be read, without waiting."""
        sock = self._ws.sock
        if sock is None:
            return True  # closed: reading says so
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        with contextlib.suppress(OSError, ValueError):
            return bool(select.select([sock], [], [], 0)[0])
        return True

    def _early_close(self) -> UpstreamError:
        """The connection ended before the turn did: transient, unless :meth:`abort` ended it."""
        return UpstreamError(
            "upstream closed the connection before the response finished", transient=not self.aborted
        )

    def ping(self, payload: bytes = b"") -> None:
        try:
            self._ws.ping(payload)
        except (OSError, websocket.WebSocketException):
            raise UpstreamError("upstream closed the connection") from None

    def abort(self) -> None:
        """Wake a thread blocked in a receive call (it gets an :class:`UpstreamError`)."""
        self.aborted = True
        sock = self._ws.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self, status: int = 1000, reason: str = "", *, wait: float = 1) -> None:
        """Say goodbye (waiting at most ``wait`` seconds for the peer's answer) and release the
        socket, whatever state the connection is in."""
        with contextlib.suppress(OSError, websocket.WebSocketException, ValueError):
            self._ws.close(status=status, reason=reason.encode(), timeout=wait)
        self.release()

    def release(self) -> None:
        """Close the socket now. websocket-client's ``close()`` returns early once the peer has
        closed, which would leave the socket in CLOSE-WAIT until garbage collection."""
        self._ws.shutdown()

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _close_reason(data: bytes) -> tuple[int, str]:
    if len(data) < 2:
        return 1005, ""
    return struct.unpack("!H", data[:2])[0], data[2:].decode("utf-8", "replace")
