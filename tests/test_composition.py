"""The SSML planner both Azure front ends use: its checks, and REST and the SDK socket refusing a
document alike, before any audio or upstream session."""

from __future__ import annotations

import struct

import pytest
import websocket
from test_azure_rest import tts
from test_azure_sdk_socket import RID, connect

from speech_realtime.composition import plan_document
from speech_realtime.errors import BadRequest
from speech_realtime.readings import Reading
from speech_realtime.speech import SpeechService
from speech_realtime.ssml import Break, parse_ssml
from speech_realtime.usp.frames import text_frame

SYNTHESIS = "/cognitiveservices/websocket/v1"


@pytest.fixture
def service(settings) -> SpeechService:
    return SpeechService(settings)


def voiced(*texts: str, voice: str = "coral") -> str:
    parts = "".join(f"<voice name='{voice}'>{text}</voice>" for text in texts)
    return f"<speak version='1.0' xml:lang='en-US'>{parts}</speak>"


def test_a_plan_has_resolved_checked_readings_and_the_breaks(service):
    document = parse_ssml(
        "<speak><voice name='coral'><prosody rate='x-fast'>Quick.</prosody><break time='300ms'/>"
        "<mstts:express-as style='cheerful' xmlns:mstts='x'>Glad.</mstts:express-as></voice></speak>"
    )
    quick, pause, glad = plan_document(service, document)
    assert isinstance(quick, Reading) and quick.text == "Quick." and quick.options.voice == "coral"
    assert quick.options.speed == 1.5  # Azure's 2.0 clamped into the Realtime API's range
    assert pause == Break(0.3)
    assert isinstance(glad, Reading) and glad.options.instructions == "Speak in a cheerful style."


@pytest.mark.parametrize(
    ("ssml", "words"),
    [
        (voiced(*["x" * 4000] * 2), "characters of text; the limit is 4096"),
        (voiced("Hi", voice="en-US-NobodyNeural"), "unknown voice"),
        ("<speak><break time='1s'/></speak>", "no text to speak"),
    ],
)
def test_a_plan_refuses_a_document_that_breaks_a_limit(service, ssml, words):
    with pytest.raises(BadRequest, match=words):
        plan_document(service, parse_ssml(ssml))


def test_a_part_over_the_per_part_limit_is_refused(settings):
    service = SpeechService(settings.with_changes(max_text_chars=10))
    with pytest.raises(BadRequest, match="the limit is 10"):
        plan_document(service, parse_ssml(voiced("short", "a longer part than ten")))


def refusal(host: str, ssml: str) -> tuple[int, str, list[int]]:
    """The close code and reason an SDK socket answers ``ssml`` with, and the opcodes before it."""
    ws = connect(host, SYNTHESIS)
    ws.send(text_frame("ssml", RID, ssml, "application/ssml+xml"))
    before = []
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return struct.unpack(">H", data[:2])[0], data[2:].decode(), before
        before.append(opcode)


def test_sixteen_parts_of_4000_characters_in_one_frame_close_1007_before_any_audio(sdk_host, upstream):
    ssml = voiced(*[str(n % 10) * 4000 for n in range(16)])
    assert len(ssml.encode()) <= 64 * 1024
    code, reason, before = refusal(sdk_host, ssml)
    assert code == 1007 and "characters of text; the limit is 4096" in reason
    assert before == [] and upstream.connections == 0  # not even turn.start


def test_a_part_over_the_limit_closes_1007_before_any_audio(sdk_host, upstream):
    code, reason, before = refusal(sdk_host, voiced("fine", "x" * 5000))
    assert code == 1007 and "limit is 4096" in reason
    assert before == [] and upstream.connections == 0


@pytest.mark.parametrize(
    "ssml",
    [
        voiced(*["y" * 3000] * 2),
        voiced("Hi", voice="en-US-NobodyNeural"),
        "<speak version='1.0'><break time='1s'/></speak>",
    ],
)
def test_rest_and_the_sdk_refuse_a_document_with_the_same_message(client, sdk_host, upstream, ssml):
    answer = tts(client, ssml)
    code, reason, _ = refusal(sdk_host, ssml)
    assert (answer.status_code, code) == (400, 1007)
    message = answer.get_data(as_text=True)
    assert reason == message.encode()[:123].decode("utf-8", "ignore")  # a close reason holds 123 bytes
    assert upstream.connections == 0
