"""Input detection and decoding, output formats and the streaming encoder."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from media import best_correlation, encode_file, signal

from speech_realtime.audio import G711_ULAW, PCM16, float_to_pcm16, resample, ulaw_encode
from speech_realtime.audio.formats import (
    Encoder,
    OutputFormat,
    azure_output_format,
    decode_input,
    encode_all,
    output_format,
    sniff,
    to_wire,
)
from speech_realtime.audio.wav import read_wav, write_wav
from speech_realtime.errors import BadRequest, PayloadTooLarge, UnsupportedMedia

SOURCE = signal(2.0, 24000)
SOURCE_PCM = float_to_pcm16(SOURCE)


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "wav"),
        (b"OggS\x00\x02", "ogg"),
        (b"fLaC\x00\x00", "flac"),
        (b"ID3\x04\x00", "mp3"),
        (b"\xff\xfb\x90\x00", "mp3"),
        (b"\x1a\x45\xdf\xa3\x01", "webm"),
        (b"\x00\x00\x00\x20ftypM4A ", "mp4"),
        (b"\xff\xf1\x50\x80", "aac"),
        (b"\x00\x01\x02\x03", None),
    ],
)
def test_sniff_knows_each_signature(head: bytes, kind: str | None) -> None:
    assert sniff(head) == kind


def test_frame_syncs_do_not_override_a_raw_label() -> None:
    silence = b"\xff" * 8000
    decoded = decode_input(silence, "g711_ulaw")
    assert decoded.wire == (silence, G711_ULAW)


@pytest.mark.parametrize(
    ("container", "codec", "rate", "layout", "label"),
    [
        ("mp3", "libmp3lame", 44100, "mono", "mp3"),
        ("ogg", "libopus", 48000, "mono", "ogg"),
        ("ogg", "vorbis", 44100, "stereo", "ogg"),
        ("flac", "flac", 16000, "mono", "flac"),
        ("webm", "libopus", 48000, "mono", "webm"),
        ("ipod", "aac", 44100, "mono", "mp4"),
    ],
)
def test_compressed_inputs_decode_by_content_whatever_the_label(
    container, codec, rate, layout, label
) -> None:
    source = signal(2.0, rate)
    data = encode_file(container, codec, source, rate, layout)
    for given_label in (None, "wav", label):
        decoded = decode_input(data, given_label)
        assert decoded.detected == label
        assert decoded.rate == rate
        assert abs(decoded.duration - 2.0) < 0.05
        assert best_correlation(source, decoded.samples, 3000)[0] > 0.99


def test_flac_is_lossless() -> None:
    pcm16 = float_to_pcm16(SOURCE)
    decoded = decode_input(encode_file("flac", "flac", np.frombuffer(pcm16, "<i2") / 32768.0, 24000), None)
    assert float_to_pcm16(decoded.samples) == pcm16


def test_wav_input_is_downmixed_and_resampled_to_the_wire() -> None:
    stereo = np.stack([SOURCE, SOURCE], axis=1).reshape(-1)
    decoded = decode_input(write_wav(float_to_pcm16(stereo), 24000, channels=2), "pcm16")
    assert decoded.detected == "wav"
    wire, fmt = to_wire(decoded)
    assert fmt is PCM16
    assert len(wire) == len(SOURCE_PCM)


@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 32000, 44100, 48000])
def test_raw_pcm_at_any_rate_resamples_to_24k_exact_to_one_sample(rate: int) -> None:
    source = signal(1.0, rate)
    wire, fmt = to_wire(decode_input(float_to_pcm16(source), "pcm16", rate=rate))
    assert fmt is PCM16
    assert abs(len(wire) // 2 - 24000) <= 1


def test_raw_inputs_that_already_are_wire_formats_pass_untouched() -> None:
    passthrough = decode_input(SOURCE_PCM, "pcm16")
    assert to_wire(passthrough) == (SOURCE_PCM, PCM16)
    assert "samples" not in vars(passthrough), "a pass-through must not decode the body"
    assert passthrough.duration == 2.0
    assert np.allclose(passthrough.samples, SOURCE, atol=1e-4)
    mulaw = ulaw_encode(float_to_pcm16(signal(1.0, 8000)))
    assert to_wire(decode_input(mulaw, "g711_ulaw")) == (mulaw, G711_ULAW)


def test_big_endian_l16_and_interleaved_channels() -> None:
    big = np.frombuffer(SOURCE_PCM, "<i2").astype(">i2").tobytes()
    decoded = decode_input(big, "pcm16be")
    assert np.allclose(decoded.samples, SOURCE, atol=1e-4)
    two = np.repeat(np.frombuffer(SOURCE_PCM, "<i2"), 2).astype("<i2").tobytes()
    assert len(decode_input(two, "pcm16", channels=2).samples) == len(SOURCE)


BAD_INPUTS = [
    (b"", "pcm16", BadRequest),
    (b"\x00" * 3, "pcm16", BadRequest),
    (b"just some text, not audio", None, UnsupportedMedia),
    (b"just some text, not audio", "mp3", UnsupportedMedia),
    (b"OggS" + b"\x00" * 100, None, UnsupportedMedia),
    (b"ID3" + b"\x07" * 100, None, UnsupportedMedia),
    (b"fLaC", None, UnsupportedMedia),
    (b"RIFF\x10\x00\x00\x00WAVE", None, BadRequest),
]


@pytest.mark.parametrize(("data", "label", "error"), BAD_INPUTS)
def test_bad_inputs_are_400_or_415(data: bytes, label: str | None, error: type) -> None:
    with pytest.raises(error):
        decode_input(data, label)


def test_truncated_compressed_files_decode_what_is_there_or_fail_cleanly() -> None:
    data = encode_file("mp3", "libmp3lame", signal(2.0, 44100), 44100)
    decoded = decode_input(data[: len(data) // 2], None)
    assert 0.5 < decoded.duration < 1.5
    with pytest.raises(UnsupportedMedia):
        decode_input(data[:40], None)


def test_audio_longer_than_the_limit_is_refused(monkeypatch) -> None:
    from speech_realtime.audio import codec

    monkeypatch.setattr(codec, "MAX_DECODED_SECONDS", 1)
    with pytest.raises(PayloadTooLarge):
        decode_input(encode_file("flac", "flac", signal(3.0, 16000), 16000), None)


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=400), label=st.sampled_from([None, "pcm16", "g711_alaw", "mp3", "wav", "ogg"]))
def test_arbitrary_bytes_never_escape_as_other_errors(data: bytes, label: str | None) -> None:
    with contextlib.suppress(BadRequest, UnsupportedMedia, PayloadTooLarge):
        decode_input(data, label)


# -- outputs ------------------------------------------------------------------------------------


def decoded_output(output: OutputFormat, data: bytes) -> tuple[np.ndarray, int]:
    if output.codec == "pcm":
        return np.frombuffer(data, "<i2").astype(np.float32) / 32768, output.rate
    label = {"mulaw": "g711_ulaw", "alaw": "g711_alaw"}.get(output.codec)
    decoded = decode_input(data, label, rate=output.rate)
    return decoded.samples, decoded.rate


@pytest.mark.parametrize(
    ("name", "rate", "tolerance_s", "min_correlation"),
    [
        ("pcm", 24000, 0, 0.9999),
        ("pcm", 16000, 0.001, 0.999),
        ("wav", 48000, 0.001, 0.999),
        ("mulaw", 8000, 0.001, 0.99),
        ("alaw", 16000, 0.001, 0.99),
        ("mp3", 24000, 0.08, 0.99),
        ("opus", 48000, 0.03, 0.98),
        ("opus", 16000, 0.03, 0.98),
        ("flac", 44100, 0.001, 0.999),
        ("aac", 24000, 0.1, 0.98),
        ("aac", 44100, 0.1, 0.98),
    ],
)
def test_each_output_format_round_trips(
    name: str, rate: int, tolerance_s: float, min_correlation: float
) -> None:
    output = output_format(name, rate)
    data = encode_all(output, PCM16, SOURCE_PCM)
    samples, decoded_rate = decoded_output(output, data)
    assert abs(len(samples) / decoded_rate - 2.0) <= tolerance_s + 1 / rate
    reference = resample(SOURCE, 24000, decoded_rate)
    correlation, _ = best_correlation(reference, samples, int(0.1 * decoded_rate))
    assert correlation >= min_correlation


def test_pcm_resampled_output_is_exact_to_one_sample() -> None:
    for rate in (8000, 16000, 22050, 44100, 48000):
        data = encode_all(output_format("pcm", rate), PCM16, SOURCE_PCM)
        assert abs(len(data) // 2 - 2 * rate) <= 1


def test_g711_from_a_g711_upstream_is_passed_through_exactly() -> None:
    mulaw = ulaw_encode(float_to_pcm16(signal(1.0, 8000)))
    output = output_format("mulaw", 8000)
    assert output.upstream is G711_ULAW
    assert encode_all(output, G711_ULAW, mulaw) == mulaw
    assert output_format("mulaw", 16000).upstream is PCM16


def test_whole_wav_has_exact_sizes_and_the_stream_has_unknown_ones() -> None:
    whole = encode_all(output_format("wav", 24000), PCM16, SOURCE_PCM)
    assert whole[40:44] == len(SOURCE_PCM).to_bytes(4, "little")
    assert read_wav(whole).samples.shape == (len(SOURCE), 1)
    encoder = Encoder(output_format("wav", 24000), PCM16, streaming=True)
    first = encoder.push(SOURCE_PCM[:4800])
    assert first[:4] == b"RIFF" and first[40:44] == b"\xff\xff\xff\xff"
    stream = first + encoder.push(SOURCE_PCM[4800:]) + encoder.finish()
    assert len(read_wav(stream).samples) == len(SOURCE)


@pytest.mark.parametrize("name", ["mp3", "opus", "flac", "aac"])
def test_compressed_streams_give_bytes_before_the_end_and_lose_no_tail(name: str) -> None:
    output = output_format(name)
    encoder = Encoder(output, PCM16, streaming=True)
    step = 4800
    pieces = [encoder.push(SOURCE_PCM[i : i + step]) for i in range(0, len(SOURCE_PCM), step)]
    assert sum(map(len, pieces[:-1])) > 0
    stream = b"".join(pieces) + encoder.finish()
    decoded = decode_input(stream, None)
    assert decoded.duration >= 2.0 - 0.03


AZURE = [
    ("raw-8khz-8bit-mono-mulaw", "mulaw", 8000, "audio/basic"),
    ("raw-8khz-8bit-mono-alaw", "alaw", 8000, "audio/x-alaw-basic"),
    ("raw-16khz-16bit-mono-pcm", "pcm", 16000, "audio/pcm"),
    ("raw-22050hz-16bit-mono-pcm", "pcm", 22050, "audio/pcm"),
    ("raw-44100hz-16bit-mono-pcm", "pcm", 44100, "audio/pcm"),
    ("riff-24khz-16bit-mono-pcm", "wav", 24000, "audio/wav"),
    ("riff-8khz-8bit-mono-mulaw", "wav-mulaw", 8000, "audio/wav"),
    ("riff-48khz-16bit-mono-pcm", "wav", 48000, "audio/wav"),
    ("audio-16khz-32kbitrate-mono-mp3", "mp3", 16000, "audio/mpeg"),
    ("audio-24khz-160kbitrate-mono-mp3", "mp3", 24000, "audio/mpeg"),
    ("audio-48khz-192kbitrate-mono-mp3", "mp3", 48000, "audio/mpeg"),
    ("ogg-16khz-16bit-mono-opus", "opus", 16000, "audio/ogg"),
    ("ogg-48khz-16bit-mono-opus", "opus", 48000, "audio/ogg"),
    ("Riff-16KHz-16Bit-Mono-PCM", "wav", 16000, "audio/wav"),
]


@pytest.mark.parametrize(("header", "codec", "rate", "mime"), AZURE)
def test_azure_output_formats(header: str, codec: str, rate: int, mime: str) -> None:
    output = azure_output_format(header)
    assert (output.codec, output.rate, output.mime) == (codec, rate, mime)
    data = encode_all(output, output.upstream, SOURCE_PCM if output.upstream is PCM16 else b"\xff" * 16000)
    assert data


def test_riff_mulaw_is_a_wav_of_g711() -> None:
    data = encode_all(azure_output_format("riff-8khz-8bit-mono-mulaw"), PCM16, SOURCE_PCM)
    audio = read_wav(data)
    assert audio.rate == 8000
    assert abs(len(audio.samples) - 16000) <= 1


@pytest.mark.parametrize(
    "header",
    ["raw-16khz-8bit-mono-pcm", "audio-16khz-32kbitrate-stereo-mp3", "webm-24khz-16bit-mono-opus", "x"],
)
def test_unknown_azure_output_formats_are_400(header: str) -> None:
    with pytest.raises(BadRequest, match="X-Microsoft-OutputFormat"):
        azure_output_format(header)


@pytest.mark.parametrize(
    ("name", "rate"), [("wma", None), ("pcm", 4000), ("pcm", 96000), ("opus", 44100), ("mp3", 37000)]
)
def test_invalid_output_requests_are_400(name: str, rate: int | None) -> None:
    with pytest.raises(BadRequest):
        output_format(name, rate)
