"""What the USP state machines return: the effects and the close codes.

The I/O layer (``web/azure_sdk.py``) carries the effects out in order. Recognition returns
:data:`RecognitionEffect`, synthesis :data:`SynthesisEffect`; both send frames and close the
socket with the codes here.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import RateLimited, Saturated, SpeechError, UpstreamAuth
from ..options import RecognitionOptions
from ..readings import Step
from ..ssml import Document

#: The close code for input the protocol does not allow (the SDK's ``BadRequest``).
BAD_INPUT = 1007
#: The close code for a turn cut short by shutdown: the SDK reports a connection failure with the
#: reason and does not retry (a 1000 mid-turn would leave it waiting).
SHUTTING_DOWN = 4000
SHUTDOWN_REASON = "the service is shutting down"
#: The close code the Python SDK reports as ``TooManyRequests``.
RATE_LIMITED = 4429


@dataclass(frozen=True)
class Send:
    """Send this frame to the client (text; binary for synthesized audio)."""

    frame: str | bytes


@dataclass(frozen=True)
class Close:
    """Close the socket with this code and reason (at most 123 bytes)."""

    code: int
    reason: str


# -- recognition ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Open:
    """Open an upstream recognition stream for the turn."""

    options: RecognitionOptions
    rate: int
    channels: int


@dataclass(frozen=True)
class Push:
    """Give PCM16LE audio to the open stream."""

    pcm: bytes


@dataclass(frozen=True)
class Finish:
    """No more audio for the open stream; it delivers its last phrases, then ``Ended``."""


@dataclass(frozen=True)
class Release:
    """The turn is over: close the upstream stream and free its session."""


# -- synthesis --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Speak:
    """Start the job: read ``steps`` (``document``'s parts, planned and checked) in order,
    reporting each part's end."""

    document: Document
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Cancel:
    """Stop the running job and free its session."""


RecognitionEffect = Send | Open | Push | Finish | Release | Close
SynthesisEffect = Send | Speak | Cancel | Close


def close_reason(message: str) -> str:
    """``message`` cut to the 123 bytes a close frame's reason may hold."""
    data = message.encode("utf-8")[:123]
    return data.decode("utf-8", errors="ignore")


def synthesis_close(error: SpeechError) -> tuple[int, str]:
    """The close code and reason for a failed synthesis (never 1000, which would leave it waiting).

    As the Python SDK 1.53 reports them: 1007 is ``BadRequest`` (bad input, unknown voice or
    format); 4429 is ``TooManyRequests`` (upstream rate limit, no free session); 4000 is
    ``ConnectionFailure`` (upstream credentials refused: no close code gives an authentication
    error, which only an HTTP 401 on the upgrade does); none of these is retried. An upstream
    error or timeout that may pass closes with 1011, ``ServiceError``, which the SDK retries once.
    """
    if isinstance(error, (RateLimited, Saturated)) or error.status == 429:
        return RATE_LIMITED, f"{error.code}: {error.message}"
    if isinstance(error, UpstreamAuth):
        return 4000, f"{error.code}: {error.message}"
    if 400 <= error.status < 500 and error.status != 408:
        return BAD_INPUT, error.message
    return 1011, f"{error.code}: {error.message}"
