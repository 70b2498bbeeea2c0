"""What an upstream failure event becomes: a :class:`SpeechError` whose message is fixed for
its kind plus the upstream's error code, never the upstream's own words.

The upstream's message can quote what we sent, name its internals, or change from one release
to the next; clients get a stable message and the code (which is what they can act on), and the
operator gets the upstream's words in the log, at WARNING. Each error also says whether a fresh
session may succeed (``transient``: a ``server_error``, a failed transcription) and whether the
request itself was at fault (:class:`UpstreamRejected`: an ``invalid_request_error``), which
the runner's retry and circuit breaker go by.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from ..errors import ContentFiltered, RateLimited, SpeechError, UpstreamError, UpstreamRejected

if TYPE_CHECKING:
    from .events import ServerEvent

log = logging.getLogger(__name__)

#: The longest upstream message written to the log (characters).
LOGGED_CHARS = 300
#: The upstream's error types and codes that mean its own passing trouble.
SERVER_ERRORS = frozenset({"server_error", "internal_error", "service_unavailable"})


def upstream_code(error: dict[str, Any], default: str) -> str:
    """The upstream's error code (or type), reduced to safe characters and a sane length."""
    raw = str(error.get("code") or error.get("type") or default)
    return re.sub(r"[^A-Za-z0-9_.-]", "", raw)[:64] or default


def _details(event_or_response: dict[str, Any], key: str = "error") -> dict[str, Any]:
    error = event_or_response.get(key)
    return error if isinstance(error, dict) else {}


def _logged(what: str, code: str, error: dict[str, Any]) -> None:
    message = str(error.get("message") or "no message")[:LOGGED_CHARS]
    log.warning("upstream %s (code %s, type %s): %s", what, code, error.get("type"), message)


def _server_side(error: dict[str, Any]) -> bool:
    return bool({str(error.get("type")), str(error.get("code"))} & SERVER_ERRORS)


def error_from_event(event: ServerEvent) -> SpeechError:
    """The exception an upstream ``error`` event stands for."""
    error = _details(event.data)
    code = upstream_code(error, "unknown")
    _logged("error event", code, error)
    if code == "rate_limit_exceeded":
        message = f"the upstream rate limit was reached (upstream code: {code})"
        return RateLimited(message, retry_after=1, transient=True)
    if _server_side(error):
        return UpstreamError(f"the upstream service failed (upstream code: {code})", transient=True)
    if error.get("type") == "invalid_request_error":
        return UpstreamRejected(f"the upstream refused the request (upstream code: {code})")
    return UpstreamError(f"the upstream reported an error (upstream code: {code})")


def error_from_failure(event: ServerEvent) -> SpeechError:
    """The exception a ``...input_audio_transcription.failed`` event stands for: transient (the
    same audio may well be transcribed on a fresh session)."""
    error = _details(event.data)
    code = upstream_code(error, "transcription_failed")
    _logged("transcription failed", code, error)
    message = f"the upstream could not transcribe the audio (upstream code: {code})"
    return UpstreamError(message, transient=True)


def error_from_response(response: dict[str, Any]) -> SpeechError:
    """The exception a ``response.done`` whose status is not ``completed`` stands for."""
    status = upstream_code({"code": response.get("status")}, "unknown")
    details = _details(response, "status_details")
    reason = details.get("reason")
    if status == "incomplete" and reason == "content_filter":
        return ContentFiltered("the upstream content filter stopped the response")
    error = _details(details)
    code = upstream_code(error, upstream_code({"code": reason}, status))
    _logged(f"response {status}", code, error)
    return UpstreamError(
        f"the upstream response ended {status} (upstream code: {code})", transient=_server_side(error)
    )
