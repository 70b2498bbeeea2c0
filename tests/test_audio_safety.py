"""FFmpeg is locked down: playlists and references never make the service read its own disk.

FFmpeg's concat, HLS, SDP and similar demuxers open the files and URLs a body names. The
service forces the demuxer from the sniffed container, allows no protocols, and says nothing
about paths in its errors, so a body naming a file on the server's disk is never decoded and
cannot even tell whether the path exists.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from media import encode_file, signal

from speech_realtime.audio import codec, input_to_wire
from speech_realtime.errors import BadRequest, SpeechError, UnsupportedMedia


def _atime_shows_reads(directory: Path) -> bool:
    """Whether reading a file updates its access time here (relatime does, once atime <= mtime)."""
    probe = directory / "probe"
    probe.write_bytes(b"x")
    os.utime(probe, (0, time.time()))
    probe.read_bytes()
    return os.stat(probe).st_atime > 0


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A working directory holding an audio file, an unreadable file, and a missing name.

    The files' access times are set to 0 (before their modification time), so any read of them
    moves it: at the end, an access time still 0 proves nothing opened them for reading.
    """
    secret = tmp_path / "secret.flac"
    secret.write_bytes(encode_file("flac", "flac", signal(1.0, 16000), 16000))
    locked = tmp_path / "locked.flac"
    locked.write_bytes(secret.read_bytes())
    locked.chmod(0)
    for path in (secret, locked):
        os.utime(path, (0, time.time()))
    monkeypatch.chdir(tmp_path)
    yield {"relative": "secret.flac", "absolute": str(secret), "locked": str(locked), "missing": "nope.flac"}
    locked.chmod(0o600)
    if _atime_shows_reads(tmp_path):
        assert os.stat(secret).st_atime == 0, "the service read a file a body named"
        assert os.stat(locked).st_atime == 0, "the service read a file a body named"


def bodies(path: str) -> dict[str, bytes]:
    """Playlist and reference bodies that name ``path``, some behind a real audio signature."""
    url = Path(path).resolve().as_uri() if os.path.isabs(path) else path
    return {
        "ffconcat": f"ffconcat version 1.0\nfile '{path}'\n".encode(),
        "concat": f"file '{path}'\n".encode(),
        "hls": f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:1.0,\n{path}\n#EXT-X-ENDLIST\n".encode(),
        "m3u": f"#EXTM3U\n#EXTINF:1,secret\n{path}\n".encode(),
        "sdp": b"v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 0 RTP/AVP 0\n"
        + f"a=x:{path}\n".encode(),
        "dash": f'<?xml version="1.0"?><MPD><Period><AdaptationSet><Representation><BaseURL>{url}'
        "</BaseURL></Representation></AdaptationSet></Period></MPD>".encode(),
        "pls": f"[playlist]\nFile1={path}\nNumberOfEntries=1\n".encode(),
        "ffmetadata-url": f"file:{path}".encode(),
        "id3-then-concat": b"ID3\x04\x00\x00\x00\x00\x00\x00"
        + f"ffconcat version 1.0\nfile '{path}'\n".encode(),
        "frame-sync-then-concat": b"\xff\xfb\x90\x00" + f"\nffconcat version 1.0\nfile '{path}'\n".encode(),
        "ogg-then-hls": b"OggS\x00\x02" + b"\x00" * 20 + f"\n#EXTM3U\n#EXTINF:1,\n{path}\n".encode(),
    }


LABELS = [None, "mp3", "ogg", "flac", "webm", "mp4", "aac", "wav"]


@pytest.mark.parametrize("label", LABELS)
@pytest.mark.parametrize("kind", list(bodies("x")))
@pytest.mark.parametrize("which", ["relative", "absolute"])
def test_playlists_never_read_files_from_disk(
    disk: dict[str, str], kind: str, label: str | None, which: str
) -> None:
    body = bodies(disk[which])[kind]
    with pytest.raises(SpeechError) as caught:
        input_to_wire(body, label)
    assert isinstance(caught.value, UnsupportedMedia | BadRequest)
    assert caught.value.status in (400, 415)
    message = caught.value.message
    assert "secret" not in message and "/" not in message.replace("audio/", "")
    assert "Error" not in message, "FFmpeg's and the OS's error names must not leak"


@pytest.mark.parametrize("label", LABELS)
@pytest.mark.parametrize("kind", ["ffconcat", "concat", "hls"])
def test_errors_do_not_tell_whether_a_path_exists(disk: dict[str, str], kind: str, label: str | None) -> None:
    messages = set()
    for which in ("absolute", "locked", "missing"):
        with pytest.raises(SpeechError) as caught:
            input_to_wire(bodies(disk[which])[kind], label)
        messages.add((type(caught.value), caught.value.code, caught.value.message))
    assert len(messages) == 1, messages


@pytest.mark.parametrize(
    ("container", "codec_name", "rate", "sniffed"),
    [
        ("mp3", "libmp3lame", 16000, "mp3"),
        ("ogg", "libopus", 48000, "ogg"),
        ("flac", "flac", 16000, "flac"),
        ("webm", "libopus", 48000, "webm"),
        ("ipod", "aac", 16000, "mp4"),
        ("adts", "aac", 16000, "aac"),
    ],
)
@pytest.mark.parametrize("label", [None, "mp3", "wav", "flac"])
def test_the_demuxer_is_forced_from_the_sniffed_container_with_no_protocols(
    monkeypatch: pytest.MonkeyPatch,
    container: str,
    codec_name: str,
    rate: int,
    sniffed: str,
    label: str | None,
) -> None:
    data = encode_file(container, codec_name, signal(1.0, rate), rate)
    opened: list[dict] = []
    real_open = codec.av.open

    def spy(file, mode="r", **kwargs):
        opened.append(kwargs)
        return real_open(file, mode, **kwargs)

    monkeypatch.setattr(codec.av, "open", spy)
    audio = input_to_wire(data, label)
    assert audio.detected == sniffed
    (kwargs,) = opened
    assert kwargs["format"] == codec.DEMUXERS[sniffed]
    assert kwargs["container_options"]["protocol_whitelist"] == "none"
    assert kwargs["container_options"]["format_whitelist"] == codec.DEMUXERS[sniffed]


def test_no_playlist_or_network_demuxer_is_allowed() -> None:
    assert not set(codec.DEMUXERS.values()) & {"concat", "hls", "dash", "sdp", "rtsp", "rtp", "image2", "tee"}
