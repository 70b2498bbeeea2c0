"""What a request handler takes from the app: the one :class:`~..speech.SpeechService`."""

from __future__ import annotations

from flask import current_app

from ..speech import SpeechService


def speech_service() -> SpeechService:
    """The app's service (``create_app`` puts it in ``extensions["speech"]``)."""
    return current_app.extensions["speech"]
