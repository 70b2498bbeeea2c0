"""What an SSML document becomes once planned: its parts as readings and breaks, in order.

A :class:`Reading` is one upstream reading, its options already checked (the voice resolved, the
speed in the Realtime API's range, a style as instructions); a :class:`~.ssml.Break` is silence.
The service layer's planner (:func:`~.composition.plan_document`) makes them for both Azure
front ends, so the REST answer and the SDK socket read a document alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from .options import SynthesisOptions
from .ssml import Break


@dataclass(frozen=True)
class Reading:
    """Text to read with these options (one upstream session)."""

    text: str
    options: SynthesisOptions


Step = Reading | Break
