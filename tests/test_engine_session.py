"""The engine end to end over a real socket with the real models (Piper, Whisper, Silero).

The protocol itself is tested on fake models in ``test_engine_protocol.py``; these tests check
what only the real models can show: speech is voiced and recognized, G.711 round trips, server
VAD finds turns in real speech, and a faster speed really is shorter. Every server event is
validated against the openai typed union of its dialect (``engine_client.EngineConnection``).
"""

from __future__ import annotations

import numpy as np
from engine_client import EngineConnection, audio_of, b64, speech_pcm
from long_reading import READINGS

from speech_realtime.audio import float_to_pcm16, pcm16_to_float, resample, ulaw_decode, ulaw_encode
from speech_realtime.text import word_error_rate

GA_PATH = "/v1/realtime?model=local-echo"


def connect(engine, session: dict) -> EngineConnection:
    conn = EngineConnection(engine.url, GA_PATH)
    conn.send("session.update", session={"type": "realtime", **session})
    conn.expect("session.updated")
    return conn


def user_text(text: str) -> dict:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def spoken_seconds(engine, text: str, speed: float) -> float:
    with connect(engine, {"audio": {"input": {"turn_detection": None}, "output": {"speed": speed}}}) as conn:
        conn.send("conversation.item.create", item=user_text(text))
        conn.send("response.create")
        events = conn.until("response.done")
    assert events[-1]["response"]["status"] == "completed"
    return len(audio_of(events, "output_audio.delta")) / 48000


def test_a_response_is_voiced_sentence_by_sentence(engine) -> None:
    paragraph = " ".join(f"This is sentence number {n} of a long paragraph." for n in range(1, 5))
    with connect(engine, {"audio": {"input": {"turn_detection": None}}}) as conn:
        conn.send("conversation.item.create", item=user_text(paragraph))
        conn.send("response.create")
        events = conn.until("response.done")
    names = [e["type"] for e in events]
    transcript_deltas = [i for i, n in enumerate(names) if n == "response.output_audio_transcript.delta"]
    assert len(transcript_deltas) == 4
    assert names.index("response.output_audio.delta") < transcript_deltas[1]
    assert events[-1]["response"]["output"][0]["content"][0]["transcript"] == paragraph
    assert np.abs(pcm16_to_float(audio_of(events, "output_audio.delta"))).max() > 0.1


def test_faster_speed_is_really_shorter(engine) -> None:
    text = "The quick brown fox jumps over the lazy dog near the river bank."
    normal, fast = spoken_seconds(engine, text, 1.0), spoken_seconds(engine, text, 1.5)
    assert fast < 0.8 * normal, (normal, fast)


def test_input_audio_transcription(engine, models) -> None:
    text = "Please call me back tomorrow afternoon."
    session = {"audio": {"input": {"transcription": {"model": "whisper-1"}, "turn_detection": None}}}
    with connect(engine, session) as conn:
        conn.send("input_audio_buffer.append", audio=b64(speech_pcm(models, text)))
        conn.send("input_audio_buffer.commit")
        events = conn.until("conversation.item.input_audio_transcription.completed")
    assert any(e["type"] == "conversation.item.input_audio_transcription.delta" for e in events)
    assert events[-1]["usage"]["seconds"] > 1
    assert word_error_rate(text, events[-1]["transcript"]) <= 0.1


def test_g711_in_and_out(engine, models) -> None:
    text = "Telephone audio from the front desk is clear enough to understand."
    narrow = float_to_pcm16(resample(pcm16_to_float(speech_pcm(models, text)), 24000, 8000))
    session = {
        "audio": {
            "input": {
                "format": {"type": "audio/pcmu"},
                "transcription": {"model": "whisper-1"},
                "turn_detection": None,
            },
            "output": {"format": {"type": "audio/pcmu"}},
        }
    }
    with connect(engine, session) as conn:
        conn.send("input_audio_buffer.append", audio=b64(ulaw_encode(narrow)))
        conn.send("input_audio_buffer.commit")
        transcript = conn.until("conversation.item.input_audio_transcription.completed")[-1]["transcript"]
        assert word_error_rate(text, transcript) <= 0.25
        conn.send("response.create")
        events = conn.until("response.done")
    audio = audio_of(events, "output_audio.delta")
    assert 1.0 < len(audio) / 8000 < 4.0
    assert np.abs(pcm16_to_float(ulaw_decode(audio))).max() > 0.1


def test_echo_of_an_audio_item_uses_its_transcript(engine, models) -> None:
    text = "Echo what I said."
    item = {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": ""}]}
    item["content"][0]["audio"] = b64(speech_pcm(models, text))
    with connect(engine, {"audio": {"input": {"turn_detection": None}}}) as conn:
        conn.send("conversation.item.create", item=item)
        conn.send("response.create")
        done = conn.until("response.done")[-1]["response"]
    assert word_error_rate(text, done["output"][0]["content"][0]["transcript"]) <= 0.25


def test_server_vad_finds_each_utterance_in_real_speech(engine, models) -> None:
    """Streaming recognition: each utterance is detected, committed and transcribed, no response."""
    first, second = "Please let me know when the package arrives.", "Thank you very much."
    pause = bytes(int(0.8 * 48000))
    audio = pause + speech_pcm(models, first) + pause + speech_pcm(models, second) + pause + pause
    vad = {"type": "server_vad", "silence_duration_ms": 500, "create_response": False}
    session = {"audio": {"input": {"transcription": {"model": "whisper-1"}, "turn_detection": vad}}}
    last = "conversation.item.input_audio_transcription.completed"
    with connect(engine, session) as conn:
        for start in range(0, len(audio), 4800):
            conn.send("input_audio_buffer.append", audio=b64(audio[start : start + 4800]))
        events = conn.until(last)
        events += conn.until(last)
    names = [e["type"] for e in events]
    assert names.count("input_audio_buffer.speech_started") == 2
    assert names.count("input_audio_buffer.speech_stopped") == 2
    assert names.count("input_audio_buffer.committed") == 2
    assert "response.created" not in names
    started = [e["audio_start_ms"] for e in events if e["type"] == "input_audio_buffer.speech_started"]
    stopped = [e["audio_end_ms"] for e in events if e["type"] == "input_audio_buffer.speech_stopped"]
    assert 400 <= started[0] < stopped[0] < started[1] < stopped[1]
    transcripts = [e["transcript"] for e in events if e["type"] == last]
    assert word_error_rate(first, transcripts[0]) <= 0.25
    assert word_error_rate(second, transcripts[1]) <= 0.25




def spoken(models, text: str) -> np.ndarray:
    """``text`` voiced at 24 kHz with the voice's leading and trailing silence cut off."""
    audio = np.concatenate([audio for _, audio in models.synthesize(text)])
    loud = np.flatnonzero(np.abs(audio) > 0.02)
    return audio[loud[0] : loud[-1] + 1]


def test_a_long_recording_is_transcribed_whole_with_real_word_times(engine, models) -> None:
    """Six readings with 2 s pauses (over 60 s, past two Whisper windows): every reading comes
    back, and each word's time lies within the reading that contains it (0.5 s tolerance)."""
    pause, audio, spans = np.zeros(48000, dtype=np.float32), [], []
    at = 1.0
    audio.append(pause[:24000])
    for text in READINGS:
        voiced = spoken(models, text)
        spans.append((at, at + len(voiced) / 24000))
        audio += [voiced, pause]
        at = spans[-1][1] + 2.0
    recording = float_to_pcm16(np.concatenate(audio))
    assert len(recording) / 48000 > 60
    session = {"audio": {"input": {"transcription": {"model": "whisper-1"}, "turn_detection": None}}}
    with connect(engine, session) as conn:
        for start in range(0, len(recording), 960_000):
            conn.send("input_audio_buffer.append", audio=b64(recording[start : start + 960_000]))
        conn.send("input_audio_buffer.commit")
        events = conn.until("conversation.item.input_audio_transcription.completed")
    completed = events[-1]
    deltas = "".join(e["delta"] for e in events if e["type"].endswith("transcription.delta"))
    assert deltas == completed["transcript"]
    assert word_error_rate(" ".join(READINGS), completed["transcript"]) <= 0.1
    words = [w for segment in completed["x_segments"] for w in segment["words"]]
    for text, (start, end) in zip(READINGS, spans, strict=True):
        heard = [w for w in words if start - 0.5 <= w["start"] and w["end"] <= end + 0.5]
        assert word_error_rate(text, " ".join(w["word"] for w in heard)) <= 0.25, text
        assert abs(heard[0]["start"] - start) <= 0.5 and abs(heard[-1]["end"] - end) <= 0.5
    stray = [w for w in words if not any(s - 0.5 <= w["start"] and w["end"] <= e + 0.5 for s, e in spans)]
    assert not stray, (stray, spans, completed["x_segments"])
