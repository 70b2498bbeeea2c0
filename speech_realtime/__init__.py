"""speech-realtime: REST speech-to-text and text-to-speech over Realtime speech sessions."""

__version__ = "0.1.0"
