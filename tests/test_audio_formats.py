"""Input detection and decoding, output formats and the streaming encoder."""

from __future__ import annotations

import contextlib
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from media import best_correlation, encode_file, signal

from speech_realtime.audio import (
    AZURE_OUTPUT_FORMATS,
    G711_ALAW,
    G711_ULAW,
    PCM16,
    Codec,
    Container,
    Encoder,
    OutputFormat,
    WireAudio,
    azure_output_format,
    decode_wire,
    encode_parts,
    float_to_pcm16,
    input_to_wire,
    output_format,
    pcm16_to_float,
    resample,
    sniff,
    ulaw_encode,
)
from speech_realtime.audio.wav import read_wav, write_wav
from speech_realtime.errors import BadRequest, PayloadTooLarge, UnsupportedMedia

SOURCE = signal(2.0, 24000)
SOURCE_PCM = float_to_pcm16(SOURCE)


def encode_all(output: OutputFormat, source: object, wire: bytes) -> bytes:
    """The whole file of ``wire`` in ``output``, as one bytes object."""
    return b"".join(encode_parts(output, source, [wire]))


def wire_samples(audio: WireAudio) -> np.ndarray:
    assert audio.format is PCM16
    return pcm16_to_float(audio.data)


# -- input --------------------------------------------------------------------------------------


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
    assert input_to_wire(silence, "g711_ulaw") == WireAudio(silence, G711_ULAW, 1.0, "g711_ulaw")


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
        audio = input_to_wire(data, given_label)
        assert audio.detected == label
        assert audio.format is PCM16
        assert abs(audio.duration - 2.0) < 0.05
        assert best_correlation(resample(source, rate, 24000), wire_samples(audio), 3000)[0] > 0.99


def test_flac_at_the_wire_rate_is_lossless() -> None:
    decoded = input_to_wire(encode_file("flac", "flac", pcm16_to_float(SOURCE_PCM), 24000), None)
    assert decoded.data == SOURCE_PCM


def test_wav_input_is_downmixed_and_resampled_to_the_wire() -> None:
    stereo = np.stack([SOURCE, SOURCE], axis=1).reshape(-1)
    audio = input_to_wire(write_wav(float_to_pcm16(stereo), 24000, channels=2), "pcm16")
    assert audio.detected == "wav"
    assert audio.format is PCM16
    assert len(audio.data) == len(SOURCE_PCM)
    wav16 = input_to_wire(write_wav(float_to_pcm16(signal(2.0, 16000)), 16000))
    assert abs(wav16.duration - 2.0) <= 1 / 24000


@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 32000, 44100, 48000])
def test_raw_pcm_at_any_rate_resamples_to_24k_exact_to_one_sample(rate: int) -> None:
    source = signal(1.0, rate)
    audio = input_to_wire(float_to_pcm16(source), "pcm16", rate=rate)
    assert audio.format is PCM16
    assert abs(len(audio.data) // 2 - 24000) <= 1
    assert best_correlation(resample(source, rate, 24000), wire_samples(audio), 100)[0] > 0.999


def test_streamed_conversion_matches_whole_signal_resampling() -> None:
    source = signal(3.0, 44100)  # several blocks
    audio = input_to_wire(write_wav(float_to_pcm16(source), 44100))
    whole = resample(source, 44100, 24000)
    assert abs(len(wire_samples(audio)) - len(whole)) <= 1
    n = min(len(whole), len(wire_samples(audio)))
    assert np.max(np.abs(wire_samples(audio)[:n] - whole[:n])) < 0.01


def test_raw_inputs_that_already_are_wire_formats_pass_untouched() -> None:
    passthrough = input_to_wire(SOURCE_PCM, "pcm16")
    assert passthrough == WireAudio(SOURCE_PCM, PCM16, 2.0, "pcm16")
    assert passthrough.data is SOURCE_PCM, "a pass-through must not decode or copy the body"
    mulaw = ulaw_encode(float_to_pcm16(signal(1.0, 8000)))
    assert input_to_wire(mulaw, "g711_ulaw").data is mulaw
    assert input_to_wire(mulaw, "g711_alaw").format is G711_ALAW


def test_big_endian_l16_and_interleaved_channels() -> None:
    big = np.frombuffer(SOURCE_PCM, "<i2").astype(">i2").tobytes()
    assert np.allclose(wire_samples(input_to_wire(big, "pcm16be")), SOURCE, atol=1e-4)
    two = np.repeat(np.frombuffer(SOURCE_PCM, "<i2"), 2).astype("<i2").tobytes()
    assert input_to_wire(two, "pcm16", channels=2).data == SOURCE_PCM


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
    with pytest.raises(error) as caught:
        input_to_wire(data, label)
    assert caught.value.param == "audio"


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"channels": 0}, "channels"),
        ({"channels": 9}, "channels"),
        ({"channels": -1}, "channels"),
        ({"rate": 0}, "rate"),
        ({"rate": 10**20}, "rate"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(kwargs: dict, param: str) -> None:
    with pytest.raises(BadRequest) as caught:
        input_to_wire(SOURCE_PCM, "pcm16", **kwargs)
    assert caught.value.param == param


def test_truncated_compressed_files_decode_what_is_there_or_fail_cleanly() -> None:
    data = encode_file("mp3", "libmp3lame", signal(2.0, 44100), 44100)
    assert 0.5 < input_to_wire(data[: len(data) // 2], None).duration < 1.5
    with pytest.raises(UnsupportedMedia):
        input_to_wire(data[:40], None)


def test_the_length_cap_counts_wire_seconds_whatever_the_input_rate(monkeypatch) -> None:
    from speech_realtime.audio import formats

    monkeypatch.setattr(formats, "MAX_WIRE_SECONDS", 2)
    for rate in (8000, 48000):
        assert input_to_wire(encode_file("flac", "flac", signal(1.9, rate), rate)).duration < 2
        with pytest.raises(PayloadTooLarge):
            input_to_wire(encode_file("flac", "flac", signal(2.1, rate), rate))
        with pytest.raises(PayloadTooLarge):
            input_to_wire(float_to_pcm16(signal(2.1, rate)), "pcm16", rate=rate)
    with pytest.raises(PayloadTooLarge):
        input_to_wire(b"\xff" * 8000 * 3, "g711_ulaw")


@pytest.fixture(scope="module")
def long_flac() -> bytes:
    """600 s of 48 kHz FLAC in about 87 KB: the file of the memory report."""
    return encode_file("flac", "flac", np.zeros(600 * 48000, np.float32), 48000)


def test_decoding_holds_the_wire_audio_not_the_file_at_its_rate_in_float(long_flac: bytes) -> None:
    tracemalloc.start()
    try:
        audio = input_to_wire(long_flac)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert audio.duration == 600
    # The result is 28.8 MB of PCM16; the whole file at 48 kHz in float would be 115 MB.
    assert peak < len(audio.data) + 8_000_000


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=400), label=st.sampled_from([None, "pcm16", "g711_alaw", "mp3", "wav", "ogg"]))
def test_arbitrary_bytes_never_escape_as_other_errors(data: bytes, label: str | None) -> None:
    with contextlib.suppress(BadRequest, UnsupportedMedia, PayloadTooLarge):
        input_to_wire(data, label)


# -- outputs ------------------------------------------------------------------------------------


def decoded_output(output: OutputFormat, data: bytes) -> tuple[np.ndarray, int]:
    """(samples, rate) of encoded output, read back through the input path at 24 kHz."""
    if output.container is Container.RAW and output.codec is Codec.PCM:
        return pcm16_to_float(data), output.rate
    label = {Codec.MULAW: "g711_ulaw", Codec.ALAW: "g711_alaw", Codec.PCM: "pcm16"}.get(output.codec)
    if output.codec is Codec.G722:
        return g722_samples(data), 16000
    audio = input_to_wire(data, label, rate=output.rate if output.container is Container.RAW else None)
    return decode_wire(audio.data, audio.format), audio.format.sample_rate


def g722_samples(data: bytes) -> np.ndarray:
    import io

    import av

    with av.open(io.BytesIO(data), format="g722") as box:
        return np.concatenate([f.to_ndarray().reshape(-1) for f in box.decode(audio=0)]).astype(
            np.float32
        ) / (32768.0 if box.streams.audio[0].format.name == "s16" else 1.0)


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
        ("webm", 24000, 0.03, 0.98),
        ("flac", 44100, 0.001, 0.999),
        ("aac", 24000, 0.1, 0.98),
        ("aac", 44100, 0.1, 0.98),
        ("g722", 16000, 0.001, 0.95),
    ],
)
def test_each_output_format_round_trips(
    name: str, rate: int, tolerance_s: float, min_correlation: float
) -> None:
    output = output_format(name, rate)
    samples, decoded_rate = decoded_output(output, encode_all(output, PCM16, SOURCE_PCM))
    assert abs(len(samples) / decoded_rate - 2.0) <= tolerance_s + 1 / rate
    reference = resample(SOURCE, 24000, decoded_rate)
    correlation, _ = best_correlation(reference, samples, int(0.1 * decoded_rate))
    assert correlation >= min_correlation


def test_pcm_resampled_output_is_exact_to_one_sample() -> None:
    for rate in (8000, 16000, 22050, 44100, 48000):
        data = encode_all(output_format("pcm", rate), PCM16, SOURCE_PCM)
        assert abs(len(data) // 2 - 2 * rate) <= 1


def test_output_formats_are_typed_records() -> None:
    wav = output_format("wav", 16000)
    assert wav == OutputFormat(Codec.PCM, Container.WAV, 16000)
    assert (wav.mime, wav.upstream, wav.raw()) == ("audio/wav", PCM16, output_format("pcm", 16000))
    mulaw_wav = azure_output_format("riff-8khz-8bit-mono-mulaw")
    assert (mulaw_wav.codec, mulaw_wav.container, mulaw_wav.upstream) == (
        Codec.MULAW,
        Container.WAV,
        G711_ULAW,
    )
    assert mulaw_wav.raw() == azure_output_format("raw-8khz-8bit-mono-mulaw")
    mp3 = azure_output_format("audio-24khz-96kbitrate-mono-mp3")
    assert (mp3.codec, mp3.rate, mp3.bit_rate, mp3.mime, mp3.raw()) == (
        Codec.MP3,
        24000,
        96000,
        "audio/mpeg",
        mp3,
    )
    assert output_format("webm").mime == "audio/webm"


def test_raw_of_a_riff_output_is_the_riff_body_without_its_header() -> None:
    riff = azure_output_format("riff-16khz-16bit-mono-pcm")
    assert encode_all(riff, PCM16, SOURCE_PCM)[44:] == encode_all(riff.raw(), PCM16, SOURCE_PCM)


def test_g711_from_a_g711_upstream_is_passed_through_exactly() -> None:
    mulaw = ulaw_encode(float_to_pcm16(signal(1.0, 8000)))
    output = output_format("mulaw", 8000)
    assert output.upstream is G711_ULAW
    assert encode_all(output, G711_ULAW, mulaw) == mulaw
    assert encode_all(azure_output_format("riff-8khz-8bit-mono-mulaw"), G711_ULAW, mulaw)[44:] == mulaw
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


@pytest.mark.parametrize(("name", "rate"), [("wav", 24000), ("wav", 16000), ("mp3", 24000), ("mulaw", 8000)])
def test_a_whole_file_from_chunks_is_the_file_from_their_join_and_empties_them(name: str, rate: int) -> None:
    output = output_format(name, rate)
    uneven = [SOURCE_PCM[:1001], SOURCE_PCM[1001:70001], SOURCE_PCM[70001:70002], SOURCE_PCM[70002:]]
    chunks = list(uneven)  # chunks that end mid-sample, one larger than a conversion block
    parts = encode_parts(output, PCM16, chunks)
    assert chunks == []
    assert all(parts)
    assert b"".join(parts) == encode_all(output, PCM16, SOURCE_PCM)


def test_the_parts_of_a_whole_wav_are_the_chunks_themselves_not_copies_of_a_join() -> None:
    chunks = [SOURCE_PCM[:48000], SOURCE_PCM[48000:]]
    parts = encode_parts(output_format("wav", 24000), PCM16, list(chunks))
    assert parts[0][:4] == b"RIFF" and int.from_bytes(parts[0][40:44], "little") == len(SOURCE_PCM)
    assert parts[1] is chunks[0] and parts[2] is chunks[1]


@pytest.mark.parametrize(("name", "rate"), [("wav", 24000), ("wav", 16000), ("mp3", 24000)])
def test_a_whole_file_is_made_without_holding_the_reading_twice(name: str, rate: int) -> None:
    tracemalloc.start()
    try:
        chunks = [bytes(bytearray(SOURCE_PCM)) for _ in range(25)]  # 50 s of audio, as deltas
        audio = sum(map(len, chunks))
        tracemalloc.reset_peak()
        encode_parts(output_format(name, rate), PCM16, chunks)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the deltas and the answer together are never much more than the deltas: each delta is
    # dropped once converted (or is itself a part), and nothing is joined
    assert peak < 1.15 * audio


@pytest.mark.parametrize("name", ["mp3", "opus", "webm", "flac", "aac"])
def test_compressed_streams_give_bytes_before_the_end_and_lose_no_tail(name: str) -> None:
    with Encoder(output_format(name), PCM16, streaming=True) as encoder:
        step = 4800
        pieces = [encoder.push(SOURCE_PCM[i : i + step]) for i in range(0, len(SOURCE_PCM), step)]
        assert sum(map(len, pieces[:-1])) > 0
        stream = b"".join(pieces) + encoder.finish()
    assert input_to_wire(stream, None).duration >= 2.0 - 0.03


@pytest.mark.parametrize("name", ["mp3", "opus", "flac", "aac", "g722", "wav"])
def test_an_aborted_encoder_is_closed_and_frees_its_codec(name: str) -> None:
    encoder = Encoder(output_format(name), PCM16, streaming=False)
    encoder.push(SOURCE_PCM[:9600])
    encoder.close()
    encoder.close()  # idempotent
    assert encoder._compressed is None or encoder._compressed._container is None
    with pytest.raises(RuntimeError), Encoder(output_format(name), PCM16, streaming=True) as inside:
        inside.push(SOURCE_PCM[:9600])
        raise RuntimeError("client went away")
    assert inside._compressed is None or inside._compressed._container is None


AZURE = [
    ("raw-8khz-8bit-mono-mulaw", Codec.MULAW, Container.RAW, 8000, "audio/basic"),
    ("raw-8khz-8bit-mono-alaw", Codec.ALAW, Container.RAW, 8000, "audio/x-alaw-basic"),
    ("raw-16khz-16bit-mono-pcm", Codec.PCM, Container.RAW, 16000, "audio/pcm"),
    ("raw-22050hz-16bit-mono-pcm", Codec.PCM, Container.RAW, 22050, "audio/pcm"),
    ("raw-44100hz-16bit-mono-pcm", Codec.PCM, Container.RAW, 44100, "audio/pcm"),
    ("riff-24khz-16bit-mono-pcm", Codec.PCM, Container.WAV, 24000, "audio/wav"),
    ("riff-8khz-8bit-mono-mulaw", Codec.MULAW, Container.WAV, 8000, "audio/wav"),
    ("riff-48khz-16bit-mono-pcm", Codec.PCM, Container.WAV, 48000, "audio/wav"),
    ("audio-16khz-32kbitrate-mono-mp3", Codec.MP3, Container.RAW, 16000, "audio/mpeg"),
    ("audio-24khz-160kbitrate-mono-mp3", Codec.MP3, Container.RAW, 24000, "audio/mpeg"),
    ("audio-48khz-192kbitrate-mono-mp3", Codec.MP3, Container.RAW, 48000, "audio/mpeg"),
    ("ogg-16khz-16bit-mono-opus", Codec.OPUS, Container.OGG, 16000, "audio/ogg"),
    ("ogg-48khz-16bit-mono-opus", Codec.OPUS, Container.OGG, 48000, "audio/ogg"),
    ("webm-24khz-16bit-24kbps-mono-opus", Codec.OPUS, Container.WEBM, 24000, "audio/webm"),
    ("g722-16khz-64kbps", Codec.G722, Container.RAW, 16000, "audio/G722"),
    ("Riff-16KHz-16Bit-Mono-PCM", Codec.PCM, Container.WAV, 16000, "audio/wav"),
]


@pytest.mark.parametrize(("name", "codec", "container", "rate", "mime"), AZURE)
def test_azure_output_formats(name: str, codec: Codec, container: Container, rate: int, mime: str) -> None:
    output = azure_output_format(name)
    assert (output.codec, output.container, output.rate, output.mime) == (codec, container, rate, mime)


@pytest.mark.parametrize("name", AZURE_OUTPUT_FORMATS)
def test_every_listed_azure_format_is_produced_at_its_rate(name: str) -> None:
    output = azure_output_format(name)
    wire = SOURCE_PCM if output.upstream is PCM16 else ulaw_encode(float_to_pcm16(signal(2.0, 8000)))
    if output.upstream is G711_ALAW:
        wire = encode_all(output_format("alaw"), PCM16, SOURCE_PCM)
    samples, decoded_rate = decoded_output(output, encode_all(output, output.upstream, wire))
    assert abs(len(samples) / decoded_rate - 2.0) < 0.1
    expected = {"16khz": 16000, "24khz": 24000, "48khz": 48000, "8khz": 8000, "22050hz": 22050}
    assert output.rate == next((r for k, r in expected.items() if f"-{k}-" in f"-{name}-"), output.rate)


def test_the_azure_list_covers_what_the_front_ends_need() -> None:
    needed = {
        *(
            f"{kind}-{r}-16bit-mono-pcm"
            for kind in ("raw", "riff")
            for r in ("8khz", "16khz", "22050hz", "24khz", "44100hz", "48khz")
        ),
        *(f"{kind}-8khz-8bit-mono-{law}" for kind in ("raw", "riff") for law in ("mulaw", "alaw")),
        *(f"audio-16khz-{k}kbitrate-mono-mp3" for k in (32, 64, 128)),
        *(f"audio-24khz-{k}kbitrate-mono-mp3" for k in (48, 96, 160)),
        *(f"audio-48khz-{k}kbitrate-mono-mp3" for k in (96, 192)),
        *(f"ogg-{k}khz-16bit-mono-opus" for k in (16, 24, 48)),
        *(f"webm-{k}khz-16bit-mono-opus" for k in (16, 24)),
    }
    assert needed <= set(AZURE_OUTPUT_FORMATS)


@pytest.mark.parametrize(
    "name",
    [
        "riff-99999999999999999999khz-16bit-mono-pcm",  # segfaulted the worker
        "riff-999999khz-16bit-mono-pcm",  # allocated 11.7 GB
        "riff-48000khz-16bit-mono-pcm",  # 69 MB for "Hello there."
        "riff-0khz-16bit-mono-pcm",
        "riff-0khz",
        "raw-16000hz-16bit-mono-pcm",
        "audio-24khz-33kbitrate-mono-mp3",
        "audio-16khz-320kbitrate-mono-mp3",
        "audio-24khz-0kbitrate-mono-mp3",
        "audio-24khz-99999999999999999999kbitrate-mono-mp3",
        "raw-16khz-8bit-mono-pcm",
        "audio-16khz-32kbitrate-stereo-mp3",
        "raw-16khz-16bit-mono-truesilk",
        "audio-16khz-16bit-32kbps-mono-opus",
        "x" * 5000,
    ],
)
def test_azure_names_outside_the_list_are_400_naming_the_format(name: str) -> None:
    with pytest.raises(BadRequest) as caught:
        azure_output_format(name)
    assert caught.value.param == "format"
    assert name[:20] in caught.value.message
    assert len(caught.value.message) < 2000


@pytest.mark.parametrize(
    ("name", "rate", "bit_rate", "param"),
    [
        ("wma", None, None, "format"),
        ("pcm", 4000, None, "rate"),
        ("pcm", 96000, None, "rate"),
        ("pcm", 0, None, "rate"),
        ("wav", 10**20, None, "rate"),
        ("opus", 44100, None, "rate"),
        ("mp3", 37000, None, "rate"),
        ("g722", 8000, None, "rate"),
        ("mp3", 24000, 33000, "format"),
        ("mp3", 16000, 320000, "format"),
        ("mp3", 24000, 10**20, "format"),
        ("opus", 48000, 1000, "format"),
        ("pcm", 24000, 64000, "format"),
        ("flac", 24000, 64000, "format"),
    ],
)
def test_invalid_output_requests_are_400(
    name: str, rate: int | None, bit_rate: int | None, param: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        output_format(name, rate, bit_rate)
    assert caught.value.param == param


def test_openai_response_formats_are_output_format_names() -> None:
    assert output_format("pcm") == OutputFormat(Codec.PCM, Container.RAW, 24000)
    assert output_format("wav").container is Container.WAV
    assert output_format("opus").mime == "audio/ogg"
    for name in ("mp3", "aac", "flac"):
        assert output_format(name).codec.value == name


@settings(max_examples=300, deadline=None)
@given(
    name=st.one_of(
        st.text(max_size=60), st.sampled_from(AZURE_OUTPUT_FORMATS).map(lambda n: n.replace("16", "9"))
    )
)
def test_any_azure_name_is_a_listed_format_or_a_400(name: str) -> None:
    try:
        output = azure_output_format(name)
    except BadRequest as error:
        assert error.param == "format"
    else:
        assert name.strip().lower() in AZURE_OUTPUT_FORMATS
        assert 8000 <= output.rate <= 48000


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(["pcm", "wav", "mulaw", "alaw", "mp3", "opus", "webm", "flac", "aac", "g722"]),
    rate=st.none() | st.integers(-(10**20), 10**20) | st.sampled_from([8000, 16000, 22050, 44100, 48000]),
    bit_rate=st.none() | st.integers(-(10**20), 10**20) | st.sampled_from([32000, 64000, 96000, 160000]),
)
def test_output_format_accepts_only_what_its_codec_can_produce(name: str, rate, bit_rate) -> None:
    try:
        output = output_format(name, rate, bit_rate)
    except BadRequest as error:
        assert error.param in ("format", "rate")
        return
    assert 8000 <= output.rate <= 48000
    assert output.bit_rate is None or 6000 <= output.bit_rate <= 320000
    assert encode_all(output, PCM16, SOURCE_PCM[:4800])


@pytest.mark.parametrize(
    ("rate", "channels", "param"),
    [(0, 1, "rate"), (10**30, 1, "rate"), (16000.0, 1, "rate"), (True, 1, "rate"), (16000, 0, "channels"),
     (16000, 9, "channels"), (16000, True, "channels")],
)  # fmt: skip
def test_raw_input_layout_is_checked_in_the_services_own_words(rate, channels, param) -> None:
    with pytest.raises(BadRequest) as caught:
        input_to_wire(bytes(4800), "pcm16", rate=rate, channels=channels)
    assert caught.value.param == param
    assert "sampleRate" not in caught.value.message  # a front end's field name, not the service's
