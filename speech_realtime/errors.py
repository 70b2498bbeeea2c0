"""The service's one exception tree.

Every failure the service knows about is a :class:`SpeechError` carrying the HTTP status and
the machine-readable code it maps to, so the web layer translates errors in one place and the
layers below never think about HTTP.
"""

from __future__ import annotations


class SpeechError(Exception):
    """Base of every error the service reports to a client.

    ``param`` names the semantic input at fault (``text``, ``voice``, ``format``, ``rate``,
    ``audio``, ``language``, ...); each front end maps it onto its own field names.
    ``transient``: the failure is the upstream's passing trouble (a 5xx handshake, an early
    close, a ``server_error``), so a fresh session may well succeed (see
    :func:`speech_realtime.realtime.resilience.retryable`).
    """

    status: int = 500
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        retry_after: int | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.message = message
        if code is not None:
            self.code = code
        self.param = param
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        """Extra HTTP headers the response for this error should carry."""
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}


class ConfigError(SpeechError):
    """The configuration cannot work (raised at start-up, never per request)."""

    code = "config_error"


class BadRequest(SpeechError):
    """The client's request is malformed or names something that does not exist."""

    status = 400
    code = "invalid_request"


class UpgradeRequired(SpeechError):
    """A WebSocket upgrade asked for a protocol version the service does not speak (or none):
    RFC 6455's 426, naming the version it does speak."""

    status = 426
    code = "upgrade_required"

    @property
    def headers(self) -> dict[str, str]:
        return {**super().headers, "Sec-WebSocket-Version": "13"}


class PayloadTooLarge(SpeechError):
    """The request body, or the audio in it, is larger than the service accepts."""

    status = 413
    code = "payload_too_large"


class UnsupportedMedia(SpeechError):
    """Unsupported content type, or audio that cannot be decoded."""

    status = 415
    code = "unsupported_media_type"


class ContentFiltered(SpeechError):
    """The upstream model stopped its response because of its content filter."""

    status = 422
    code = "content_filter"


class RateLimited(SpeechError):
    """The upstream service (or this one) asks the client to slow down."""

    status = 429
    code = "rate_limited"


class UpstreamError(SpeechError):
    """The Realtime service failed, refused, or broke the protocol."""

    status = 502
    code = "upstream_error"


class UpstreamRejected(UpstreamError):
    """The upstream refused what we sent as invalid (an ``invalid_request_error``): the request's
    fault, not the backend's, so it is neither retried nor counted by the circuit breaker."""


class UpstreamAuth(UpstreamError):
    """The upstream refused our credentials (handshake 401/403)."""

    code = "upstream_auth"


class UpstreamConfig(UpstreamError):
    """The upstream does not know the deployment or model we asked for (handshake 404)."""

    code = "upstream_config"


class UpstreamUnavailable(UpstreamError):
    """The upstream could not be reached at all, or the circuit breaker holds requests off it
    (then a 503 with Retry-After)."""

    code = "upstream_unavailable"


class BreakerOpen(UpstreamUnavailable):
    """The circuit breaker is open: the upstream failed repeatedly, so requests fail fast
    without a connection until the cool-down (``retry_after``) ends."""

    status = 503


class RequestTimeout(SpeechError):
    """The client took longer than allowed to send its request."""

    status = 408
    code = "request_timeout"


class Saturated(SpeechError):
    """Every upstream session slot is busy."""

    status = 503
    code = "saturated"


class UpstreamTimeout(SpeechError):
    """The upstream did not finish within the request deadline."""

    status = 504
    code = "upstream_timeout"
