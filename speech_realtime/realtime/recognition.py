"""Sans-I/O streaming recognition: audio in as it arrives, server VAD, events out as they happen.

The session runs server VAD with ``create_response: false``: the server marks the start and end
of each utterance, commits it, and transcribes it; no response is ever generated. The machine
turns that into the service's recognition events:

========================================================  ==========================================
server event                                              recognition event
========================================================  ==========================================
``input_audio_buffer.speech_started`` (``audio_start_ms``)  :class:`SpeechStarted`
``...input_audio_transcription.delta``                    :class:`Hypothesis` (the text so far)
``input_audio_buffer.speech_stopped`` (``audio_end_ms``)  :class:`SpeechStopped`
``...input_audio_transcription.completed``                :class:`Phrase` (none for empty text)
everything delivered after :meth:`finish`                 :class:`Ended`
========================================================  ==========================================

Offsets are seconds from the start of the stream's audio (the server counts from the start of
the session's input, which is the same audio). :meth:`finish` commits what is left of an
utterance in progress; a rest shorter than the server's minimum is no phrase.

The :class:`~speech_realtime.options.Segmentation` sets the turn detection (silence duration,
or ``semantic_vad``), and its ``max_phrase_ms`` is applied here: a phrase that has run that long
without the VAD ending it is committed by the client at that point of the audio (a forced end,
as Azure's maximum segmentation time does), and the speech that follows is the next phrase.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ..audio import MIN_COMMIT_SECONDS, WIRE_FORMATS
from ..options import (
    Ended,
    Hypothesis,
    Phrase,
    RecognitionEvent,
    Segmentation,
    SpeechStarted,
    SpeechStopped,
    spread_words,
)
from .events import (
    Dialect,
    Kind,
    ServerEvent,
    append_audio_events,
    commit_audio,
    stt_session_update,
)
from .session import ClientEvent
from .transcription import TranscriptionSession
from .upstream_errors import error_from_event, error_from_failure

#: The error code of a commit of an empty (or too short) buffer: no phrase, not a failure.
COMMIT_EMPTY = "input_audio_buffer_commit_empty"


@dataclass
class _Utterance:
    start: float
    end: float | None = None
    text: str = ""


class VadTranscription:
    """One streaming recognition turn, its phrases cut by the server's VAD: the sans-I/O machine
    that :class:`~.stream.RecognitionStream` drives (and not to be confused with the whole-upload
    :class:`~.session.Transcription` or the Azure SDK's ``usp`` ``RecognitionMachine``). Feed it
    audio (:meth:`push`) and server events (:meth:`feed`); send the client events they return;
    collect events with :meth:`take_events`.
    """

    def __init__(
        self,
        dialect: Dialect,
        *,
        transcribe_model: str,
        audio_format: str = "pcm16",
        language: str | None = None,
        prompt: str | None = None,
        keywords: tuple[str, ...] = (),
        session: TranscriptionSession | None = None,
        segmentation: Segmentation | None = None,
    ) -> None:
        self._dialect = dialect
        self._segmentation = segmentation or Segmentation()
        maximum = self._segmentation.max_phrase_ms
        self._max_phrase = maximum / 1000 if maximum else None
        #: Where the phrase in progress began (None while no one speaks): a forced end moves it.
        self._phrase_start: float | None = None
        self._format = WIRE_FORMATS[audio_format]
        self._model = transcribe_model
        self._language = language
        self._prompt = prompt
        self._keywords = keywords
        self._session = session
        #: True when the stream runs on a transcription session (a transcription-only deployment)
        self.transcription_session = session is not None
        self._pushed = 0
        self._speaking: _Utterance | None = None
        self._committed_until = 0.0
        self._utterances: dict[str, _Utterance] = {}
        #: The stream positions of the client's own commits not yet answered, oldest first.
        self._own_commits: deque[float] = deque()
        self._finished = False
        self._events: list[RecognitionEvent] = []
        self.done = False

    @property
    def position(self) -> float:
        """Seconds of audio pushed so far."""
        return self._pushed / self._format.bytes_per_second

    def start(self) -> list[ClientEvent]:
        update = stt_session_update(
            self._dialect,
            audio_format=self._format.name,
            transcribe_model=self._model,
            language=self._language,
            prompt=self._prompt,
            vad=True,
            keywords=self._keywords,
            session=self._session,
            segmentation=self._segmentation,
        )
        return [update]

    def push(self, wire: bytes) -> list[ClientEvent]:
        """Append audio in the session's wire format (whole samples)."""
        if self._finished:
            raise ValueError("the stream is finished")
        if not wire:
            return []
        self._pushed += len(wire)
        return [*append_audio_events(wire, self._format.sample_width), *self._force_end()]

    def _force_end(self) -> list[ClientEvent]:
        """A commit, when the phrase in progress has reached the maximum phrase time.

        The commit ends the phrase at the current position (everything appended so far); the
        server's VAD, still hearing speech, goes on, and what follows becomes the next phrase,
        itself forced to end after the same time if the speaker still does not pause.
        """
        if self._max_phrase is None or self._phrase_start is None:
            return []
        if self.position - self._phrase_start < self._max_phrase:
            return []
        self._phrase_start = self.position
        self._own_commits.append(self.position)
        return [commit_audio()]

    def finish(self) -> list[ClientEvent]:
        """No more audio: commit what the server's VAD has not committed yet.

        The server handles events in order, so by the time it answers the commit (``committed``,
        or a ``commit_empty`` error) its VAD has seen all the audio: nothing is lost to the race
        between the last appends and the VAD events still on their way. A rest that is silence
        transcribes to nothing and so is no phrase; a rest under the server's minimum (by our
        possibly stale count, which can only overestimate it) is not committed at all.
        """
        if self._finished:
            return []
        self._finished = True
        rest = self.position - max([self._committed_until, *self._own_commits])
        if rest >= MIN_COMMIT_SECONDS:
            self._own_commits.append(self.position)
            return [commit_audio()]
        self._check_done()
        return []

    def take_events(self) -> list[RecognitionEvent]:
        events, self._events = self._events, []
        return events

    def feed(self, event: ServerEvent) -> list[ClientEvent]:
        kind = event.kind
        if kind is Kind.ERROR:
            self._error(event)
        elif kind is Kind.SPEECH_STARTED:
            start = event.milliseconds("audio_start_ms")
            self._speaking = _Utterance(start)
            self._phrase_start = start
            self._utterances[event.text("item_id")] = self._speaking
            self._events.append(SpeechStarted(round(start, 3)))
        elif kind is Kind.SPEECH_STOPPED:
            end = event.milliseconds("audio_end_ms")
            utterance = self._utterances.setdefault(event.text("item_id"), _Utterance(self._committed_until))
            utterance.end = end
            self._committed_until = max(self._committed_until, end)
            self._speaking = self._phrase_start = None
            self._events.append(SpeechStopped(round(end, 3)))
        elif kind is Kind.INPUT_COMMITTED:
            self._committed(event.text("item_id"))
        elif kind is Kind.TRANSCRIPTION_DELTA:
            utterance = self._utterances.get(event.text("item_id"))
            if utterance is not None:
                utterance.text += event.text("delta")
                end = utterance.end if utterance.end is not None else self.position
                text = utterance.text.strip()
                if text:
                    self._events.append(
                        Hypothesis(text, round(utterance.start, 3), _span(utterance.start, end))
                    )
        elif kind is Kind.TRANSCRIPTION_COMPLETED:
            self._completed(event)
        elif kind is Kind.TRANSCRIPTION_FAILED and event.text("item_id") in self._utterances:
            raise error_from_failure(event)
        return []

    def _committed(self, item_id: str) -> None:
        known = self._utterances.get(item_id)
        if known is not None and known.end is not None:
            return  # the server's VAD committed an utterance it already stopped
        if not self._own_commits:
            self._utterances.setdefault(item_id, _Utterance(self._committed_until, self.position))
            return
        # Our own commit (finish, or a forced end): the audio up to it ends the utterance in progress.
        end = self._own_commits.popleft()
        start = self._committed_until
        if self._speaking is not None:
            start = self._speaking.start
            self._utterances = {k: u for k, u in self._utterances.items() if u is not self._speaking}
        self._utterances[item_id] = _Utterance(start, max(start, end))
        self._committed_until = max(self._committed_until, end)
        self._speaking = None

    def _completed(self, event: ServerEvent) -> None:
        utterance = self._utterances.pop(event.text("item_id"), None)
        if utterance is None:
            return
        text = event.text("transcript").strip()
        end = utterance.end if utterance.end is not None else self.position
        if text:
            words = spread_words(text, utterance.start, end)
            self._events.append(Phrase(text, round(utterance.start, 3), _span(utterance.start, end), words))
        self._check_done()

    def _error(self, event: ServerEvent) -> None:
        error = event.data.get("error")
        code = error.get("code") if isinstance(error, dict) else None
        if code == COMMIT_EMPTY and self._own_commits:
            # nothing was left to commit: the server's buffer is empty up to that point
            self._committed_until = max(self._committed_until, self._own_commits.popleft())
            self._check_done()
            return
        raise error_from_event(event)

    def _check_done(self) -> None:
        pending = [u for u in self._utterances.values() if u is not self._speaking]
        if self._finished and not self._own_commits and not pending and not self.done:
            self._utterances.clear()
            self._events.append(Ended())
            self.done = True


def _span(start: float, end: float) -> float:
    return round(max(0.0, end - start), 3)
