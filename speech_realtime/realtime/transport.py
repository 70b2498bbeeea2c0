"""The WebSocket connection to a Realtime service: URLs, handshake, timeouts, error translation.

The only module that imports ``websocket``. Every failure leaves it as one of the service's
exceptions, with the handshake status kept (and ``Retry-After`` for 429).
"""

from __future__ import annotations

import contextlib
import json
import ssl
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import websocket

from ..config import Settings
from ..errors import (
    RateLimited,
    UpstreamAuth,
    UpstreamConfig,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from .events import GA, PREVIEW


@dataclass(frozen=True)
class Endpoint:
    """Where and how a backend's Realtime sessions are opened."""

    backend: str
    url: str
    dialect: str
    model: str

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc


def _ws_base(http_url: str) -> str:
    parts = urlsplit(http_url.strip())
    scheme = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {http_url!r}")
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def endpoint_for(settings: Settings, engine_url: str | None = None) -> Endpoint:
    """The Realtime endpoint for the configured backend (``engine_url`` overrides for local)."""
    if settings.backend == "azure":
        base = _ws_base(settings.azure_endpoint or "")
        deployment = quote(settings.azure_deployment, safe="")
        if settings.dialect == PREVIEW:
            version = quote(settings.azure_api_version or "", safe="")
            url = f"{base}/openai/realtime?api-version={version}&deployment={deployment}"
        else:
            url = f"{base}/openai/v1/realtime?model={deployment}"
        return Endpoint("azure", url, settings.dialect, settings.azure_deployment)
    if settings.backend == "openai":
        url = f"{_ws_base(settings.openai_base_url)}/realtime?model={quote(settings.openai_model)}"
        return Endpoint("openai", url, GA, settings.openai_model)
    engine = engine_url or settings.engine_url
    if not engine:
        raise ValueError("the local backend needs the engine's URL")
    url = f"{_ws_base(engine)}/v1/realtime?model={quote(settings.model)}"
    return Endpoint("local", url, GA, settings.model)


def _retry_after(headers: Any) -> int:
    value = (headers or {}).get("retry-after") or (headers or {}).get("Retry-After")
    try:
        return max(0, int(float(value)))
    except (TypeError, ValueError):
        return 1


def _handshake_error(exc: websocket.WebSocketBadStatusException) -> Exception:
    status = exc.status_code
    if status in (401, 403):
        return UpstreamAuth(f"upstream refused the credentials (HTTP {status})")
    if status == 404:
        return UpstreamConfig(f"upstream does not know the deployment or model (HTTP {status})")
    if status == 429:
        return RateLimited(
            "upstream rate limit reached (HTTP 429)", retry_after=_retry_after(exc.resp_headers)
        )
    return UpstreamError(f"upstream refused the WebSocket handshake (HTTP {status})")


class Connection:
    """One open Realtime WebSocket. Use as a context manager so it is always closed."""

    def __init__(self, ws: websocket.WebSocket) -> None:
        self._ws = ws

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
            raise UpstreamError("upstream closed the connection while we were sending") from None

    def receive(self, deadline: float, idle: float) -> str | bytes:
        """The next message, waiting at most ``idle`` seconds and no later than ``deadline``."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise UpstreamTimeout("upstream did not finish within the request deadline")
        self._ws.settimeout(min(idle, remaining))
        try:
            message = self._ws.recv()
        except (websocket.WebSocketTimeoutException, TimeoutError):
            if idle < remaining:
                raise UpstreamTimeout(f"upstream sent nothing for {idle:g} s") from None
            raise UpstreamTimeout("upstream did not finish within the request deadline") from None
        except (OSError, websocket.WebSocketException):
            raise UpstreamError("upstream closed the connection before the response finished") from None
        if not message:
            raise UpstreamError("upstream closed the connection before the response finished")
        return message

    def close(self) -> None:
        with contextlib.suppress(OSError, websocket.WebSocketException):
            self._ws.close(timeout=1)

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
