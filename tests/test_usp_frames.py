"""USP framing: parse what the SDK sends, build what it accepts (header spellings, request id)."""

from __future__ import annotations

import json
import re
import struct

import pytest

from speech_realtime.usp.frames import FrameError, binary_frame, parse, parse_binary, parse_text, text_frame

RID = "0123456789abcdef0123456789ABCDEF"


def test_text_frame_round_trip_keeps_request_id_byte_for_byte():
    frame = text_frame("speech.phrase", RID, {"RecognitionStatus": "Success", "DisplayText": "Hé"})
    head, body = frame.split("\r\n\r\n", 1)
    lines = head.split("\r\n")
    assert lines[0] == "Path:speech.phrase"
    assert f"X-RequestId:{RID}" in lines
    assert "Content-Type:application/json; charset=utf-8" in lines
    stamp = next(line for line in lines if line.startswith("X-Timestamp:"))
    assert re.fullmatch(r"X-Timestamp:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
    assert json.loads(body)["DisplayText"] == "Hé"
    message = parse_text(frame)
    assert message.path == "speech.phrase" and message.request_id == RID


def test_client_text_frame_headers_case_insensitive_values_verbatim():
    frame = "path: speech.context\r\nx-requestid:" + RID + '\r\nX-Timestamp:t\r\n\r\n{"a": 1}'
    message = parse(frame)
    assert message.path == "speech.context"
    assert message.request_id == RID
    assert message.json() == {"a": 1}


def test_binary_frame_two_byte_big_endian_header_length():
    frame = binary_frame("audio", RID, b"\x01\x02\x03", {"X-StreamId": "7"})
    (size,) = struct.unpack(">H", frame[:2])
    head = frame[2 : 2 + size].decode()
    assert head.endswith("\r\n") and "X-StreamId:7\r\n" in head and head.startswith("Path:audio\r\n")
    assert frame[2 + size :] == b"\x01\x02\x03"
    message = parse_binary(frame)
    assert message.binary and message.body == b"\x01\x02\x03" and message.header("x-streamid") == "7"


def test_empty_audio_frame_has_empty_body():
    assert parse(binary_frame("audio", RID, b"")).body == b""


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\x00",
        b"\xff\xff" + b"Path:audio\r\n",
        struct.pack(">H", 5) + b"nocol",
        "X-RequestId:1\r\n\r\n{}",
    ],
)
def test_malformed_frames_raise_frame_error(frame):
    with pytest.raises(FrameError):
        parse(frame)


def test_non_object_json_body_is_a_frame_error():
    with pytest.raises(FrameError):
        parse_text("Path:speech.context\r\n\r\n[1]").json()
