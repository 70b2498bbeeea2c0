"""Pure audio facts and functions on bytes: the wire formats the Realtime API carries."""

from __future__ import annotations

from dataclasses import dataclass

#: The Realtime API rejects a commit of less audio than this (``input_audio_buffer_commit_empty``).
MIN_COMMIT_SECONDS = 0.1


@dataclass(frozen=True)
class WireFormat:
    """An audio encoding the Realtime API accepts and produces as-is."""

    name: str
    sample_rate: int
    sample_width: int
    mime: str

    @property
    def bytes_per_second(self) -> int:
        return self.sample_rate * self.sample_width

    def duration(self, data: bytes) -> float:
        """Seconds of audio in ``data``."""
        return len(data) / self.bytes_per_second


PCM16 = WireFormat("pcm16", 24000, 2, "audio/pcm")
G711_ULAW = WireFormat("g711_ulaw", 8000, 1, "audio/pcmu")
G711_ALAW = WireFormat("g711_alaw", 8000, 1, "audio/pcma")
WIRE_FORMATS = {f.name: f for f in (PCM16, G711_ULAW, G711_ALAW)}
