"""WebRTC calls: a browser's SDP offer forwarded to the upstream's ``/realtime/calls`` with the
service's credentials, and the SDP answer brought back (OpenAI's "unified interface").

The upstream gets OpenAI's GA request: ``multipart/form-data`` with the ``sdp`` offer exactly as
the browser sent it and the ``session`` the policy allows (the configured model or deployment,
the client secret's fixed options, the client's own allowed ones). OpenAI:
``{OPENAI_BASE_URL}/realtime/calls``; Azure: ``{AZURE_OPENAI_ENDPOINT}/openai/v1/realtime/calls``.
Media then flows between the browser and the upstream; the service holds no session for it.
The offline engine speaks no WebRTC: :class:`WebRtcUnavailable` (501) points at the
WebSocket routes. An upstream refusal becomes the service's own error with the upstream's
status and code, never its words (those go to the log).
"""

from __future__ import annotations

import json
import logging
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..config import Backend, Settings
from ..errors import (
    RateLimited,
    SpeechError,
    UpstreamAuth,
    UpstreamConfig,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from .transport import retry_after
from .upstream_errors import LOGGED_CHARS, upstream_code

log = logging.getLogger(__name__)

#: The largest SDP offer forwarded (a browser's is a few KB).
MAX_SDP_BYTES = 64 * 1024
#: The largest upstream answer read.
MAX_ANSWER_BYTES = 256 * 1024


class WebRtcUnavailable(SpeechError):
    """The backend has no WebRTC (the offline engine)."""

    status = 501
    code = "webrtc_unavailable"


@dataclass(frozen=True)
class CallAnswer:
    """The upstream's SDP answer and the path of the call it created, if it named one."""

    sdp: str
    location: str | None


def calls_url(settings: Settings) -> str:
    """The upstream's ``/realtime/calls`` URL, or :class:`WebRtcUnavailable`."""
    if settings.backend == Backend.AZURE:
        return f"{(settings.azure_endpoint or '').rstrip('/')}/openai/v1/realtime/calls"
    if settings.backend == Backend.OPENAI:
        return f"{settings.openai_base_url.rstrip('/')}/realtime/calls"
    raise WebRtcUnavailable(
        "the offline engine has no WebRTC; connect over WebSocket instead: the relay "
        "(/realtime, /api/speech-realtime/ws) or the Realtime pass-through (/v1/realtime)"
    )


def multipart(sdp: str, session: dict[str, Any]) -> tuple[bytes, str]:
    """The GA request body (``sdp`` and ``session`` parts) and its Content-Type."""
    boundary = f"speech-realtime-{secrets.token_hex(12)}"
    parts = (
        ("sdp", "application/sdp", sdp),
        ("session", "application/json", json.dumps(session, separators=(",", ":"))),
    )
    head = '--{0}\r\nContent-Disposition: form-data; name="{1}"\r\nContent-Type: {2}\r\n\r\n'
    body = b"".join(
        head.format(boundary, name, kind).encode() + value.encode() + b"\r\n" for name, kind, value in parts
    )
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def create_call(
    url: str, headers: dict[str, str], sdp: str, session: dict[str, Any], timeout: float
) -> CallAnswer:
    """POST the offer upstream; the answer, or the service's error for the upstream's failure."""
    body, content_type = multipart(sdp, session)
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={**headers, "Content-Type": content_type, "Accept": "application/sdp"},
    )
    host = urlsplit(url).netloc.rpartition("@")[2]
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            text = answer.read(MAX_ANSWER_BYTES).decode("utf-8", "replace")
            location = answer.headers.get("Location")
    except urllib.error.HTTPError as exc:
        raise _refusal(exc) from None
    except TimeoutError:
        raise UpstreamTimeout(f"the WebRTC call to {host} timed out") from None
    except (urllib.error.URLError, OSError) as exc:
        raise UpstreamUnavailable(f"cannot reach {host} ({type(exc).__name__})") from None
    return CallAnswer(text, _path_only(location))


def _path_only(location: str | None) -> str | None:
    """The path of the upstream's Location (its host is the upstream's business)."""
    if not location:
        return None
    parts = urlsplit(location)
    return parts.path or None


def _refusal(exc: urllib.error.HTTPError) -> SpeechError:
    status = exc.code
    try:
        details = json.loads(exc.read(MAX_ANSWER_BYTES)).get("error") or {}
    except (ValueError, AttributeError, OSError):
        details = {}
    details = details if isinstance(details, dict) else {}
    code = upstream_code(details, f"http_{status}")
    log.warning(
        "upstream refused a WebRTC call (HTTP %d, code %s): %s",
        status,
        code,
        str(details.get("message") or "no message")[:LOGGED_CHARS],
    )
    suffix = f"(HTTP {status}, upstream code: {code})"
    if status in (401, 403):
        return UpstreamAuth(f"upstream refused the credentials {suffix}")
    if status == 404:
        return UpstreamConfig(f"upstream does not know the deployment or model {suffix}")
    if status == 429:
        return RateLimited(
            f"upstream rate limit reached {suffix}", retry_after=retry_after(exc.headers.get("Retry-After"))
        )
    if 400 <= status < 500:
        return UpstreamRejected(f"the upstream refused the call {suffix}")
    return UpstreamError(f"the upstream failed the call {suffix}", transient=True)
