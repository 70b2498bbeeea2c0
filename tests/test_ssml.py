"""SSML parses into voiced parts; anything unsafe or malformed is a clear 400 before any work."""

from __future__ import annotations

import pytest

from speech_realtime.errors import BadRequest
from speech_realtime.ssml import MAX_SSML_BYTES, Break, Mark, Text, parse_rate, parse_ssml

AZURE_SAMPLE = """<speak version='1.0' xml:lang='en-US'><voice xml:lang='en-US' xml:gender='Male'
    name='en-US-ChristopherNeural'>
        I'm excited to try text to speech!
</voice></speak>"""


def speak(body: str) -> str:
    return (
        "<speak version='1.0' xmlns='http://www.w3.org/2001/10/synthesis' "
        f"xmlns:mstts='https://www.w3.org/2001/mstts' xml:lang='en-US'>{body}</speak>"
    )


def test_azures_documented_request_body() -> None:
    document = parse_ssml(AZURE_SAMPLE.encode())
    assert document.parts == (Text("I'm excited to try text to speech!", "en-US-ChristopherNeural"),)
    assert document.language == "en-US"


def test_several_voices_are_voiced_in_order_and_text_outside_uses_the_default() -> None:
    document = parse_ssml(
        speak(
            "Intro. <voice name='en-US-JennyNeural'>One.</voice><voice name='GuyNeural'>Two.</voice> Outro."
        ),
        default_voice="alloy",
    )
    assert [(t.text, t.voice) for t in document.texts] == [
        ("Intro.", "alloy"),
        ("One.", "en-US-JennyNeural"),
        ("Two.", "GuyNeural"),
        ("Outro.", "alloy"),
    ]
    assert parse_ssml(speak("Hi.")).parts == (Text("Hi.", None),)


def test_same_voice_text_is_one_reading_with_words_kept_apart() -> None:
    document = parse_ssml(
        speak(
            "<voice name='Jenny'><p><s>First.</s><s>Second</s></p></voice><voice name='Jenny'>third</voice>"
        )
    )
    assert document.parts == (Text("First. Second third", "Jenny"),)


@pytest.mark.parametrize(
    ("rate", "speed"),
    [
        ("x-slow", 0.5),
        ("slow", 0.64),
        ("medium", 1.0),
        ("fast", 1.55),
        ("x-fast", 2.0),
        ("+20%", 1.2),
        ("-10%", 0.9),
        ("30%", 1.3),
        ("1.5", 1.5),
        ("0.75", 0.75),
        ("+300%", 2.0),
        ("0.1", 0.5),
    ],
)
def test_prosody_rate_becomes_speed_on_azures_scale(rate: str, speed: float) -> None:
    (text,) = parse_ssml(speak(f"<prosody rate='{rate}'>Words.</prosody>")).texts
    assert text.speed == pytest.approx(speed)


def test_nested_relative_rates_compound_and_unknown_rates_are_refused() -> None:
    assert parse_rate("+50%", 0.8) == pytest.approx(1.2)
    with pytest.raises(BadRequest) as caught:
        parse_ssml(speak("<prosody rate='warp'>x</prosody>"))
    assert caught.value.param == "speed" and "warp" in caught.value.message


def test_breaks_become_silence() -> None:
    document = parse_ssml(
        speak(
            "A<break time='500ms'/>B<break time='2s'/>C<break strength='x-weak'/>D<break/>E"
            "<break strength='none'/>F<break time='90s'/>G"
        )
    )
    assert document.parts == (
        Text("A"), Break(0.5), Text("B"), Break(2.0), Text("C"), Break(0.25), Text("D"), Break(0.75),
        Text("EF"), Break(20.0), Text("G"),
    )  # fmt: skip
    with pytest.raises(BadRequest, match="soon"):
        parse_ssml(speak("A<break time='soon'/>"))


def test_bookmarks_mark_positions_in_the_text() -> None:
    document = parse_ssml(
        speak("<bookmark mark='start'/>Hello <bookmark mark='mid'/>world.<bookmark mark='end'/><break/>"
              "<bookmark mark='after'/>Again.<bookmark mark='last'/>")
    )  # fmt: skip
    first, pause, second = document.parts
    assert first == Text("Hello world.", marks=(Mark("start", 0), Mark("mid", 6), Mark("end", 12)))
    assert pause == Break(0.75)
    assert second == Text("Again.", marks=(Mark("after", 0), Mark("last", 6)))


def test_unsupported_elements_are_read_as_their_text_never_as_markup() -> None:
    document = parse_ssml(
        speak(
            "<voice name='Aria'><say-as interpret-as='date'>2024-01-02</say-as> "
            "<phoneme alphabet='ipa' ph='t&#601;me&#618;to&#650;'>tomato</phoneme> "
            "<emphasis level='strong'>re</emphasis>ally <sub alias='World Wide Web'>WWW</sub> "
            "<lang xml:lang='de-DE'>Hallo</lang> <audio src='http://example.invalid/a.wav'>beep</audio> "
            "&lt;b&gt;bold&lt;/b&gt; &amp; more<!-- a comment --></voice>"
        )
    )
    assert document.texts[0].text == "2024-01-02 tomato really World Wide Web Hallo beep <b>bold</b> & more"


def test_express_as_style_is_a_style_hint() -> None:
    (text,) = parse_ssml(speak("<mstts:express-as style='cheerful'>Great news!</mstts:express-as>")).texts
    assert text.style == "cheerful"


@pytest.mark.parametrize("style", ["cheerful&#10;", "cheerful\n", "cheer ful", "-x", "x" * 41])
def test_a_style_that_is_not_a_plain_name_is_not_a_hint(style: str) -> None:
    (text,) = parse_ssml(speak(f"<mstts:express-as style='{style}'>Great news!</mstts:express-as>")).texts
    assert text.style is None


@pytest.mark.parametrize("encoding", ["UTF-7", "x-nope", "utf-32"])
def test_an_encoding_expat_cannot_read_is_a_clear_bad_request(encoding: str) -> None:
    body = f"<?xml version='1.0' encoding='{encoding}'?><speak>Hi</speak>".encode()
    with pytest.raises(BadRequest, match=f"encoding {encoding!r}") as caught:
        parse_ssml(body)
    assert caught.value.param == "text" and caught.value.code == "invalid_ssml"


@pytest.mark.parametrize("encoding", ["ISO-8859-1", "windows-1252", "us-ascii"])
def test_single_byte_encodings_are_read(encoding: str) -> None:
    body = f"<?xml version='1.0' encoding='{encoding}'?><speak>Caf\xe9</speak>".encode("latin-1")
    if encoding == "us-ascii":
        body = body.replace(b"\xe9", b"e")
    assert parse_ssml(body).texts[0].text in ("Café", "Cafe")


@pytest.mark.parametrize(
    "body",
    [
        # entity expansion ("billion laughs")
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        "<speak>&lol2;</speak>",
        # external entity
        '<?xml version="1.0"?><!DOCTYPE speak [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><speak>&xxe;</speak>',
        # external DTD
        '<!DOCTYPE speak SYSTEM "http://example.invalid/ssml.dtd"><speak>hi</speak>',
    ],
)
def test_dtds_and_entities_are_refused(body: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_ssml(body.encode())
    assert caught.value.status == 400 and "DOCTYPE" in caught.value.message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<speak>unclosed", "malformed SSML"),
        ("<speak>&undefined;</speak>", "undefined entity"),
        ("<speak><voice name='a'>x</speak>", "mismatched tag"),
        ("just some text", "malformed SSML"),
        ("<voice name='a'>x</voice>", "root element must be <speak>"),
        ("<speak> <break/> </speak>", "no text"),
        ("   ", "empty"),
    ],
)
def test_malformed_ssml_is_a_clear_bad_request(body: str, message: str) -> None:
    with pytest.raises(BadRequest, match=message) as caught:
        parse_ssml(body)
    assert caught.value.param == "text"


def test_the_size_and_the_depth_are_limited() -> None:
    with pytest.raises(BadRequest, match="limit is"):
        parse_ssml(speak("a" * MAX_SSML_BYTES))
    with pytest.raises(BadRequest, match="nested"):
        parse_ssml(speak("<emphasis>" * 100 + "x" + "</emphasis>" * 100))


def test_the_total_silence_is_limited_so_a_small_document_cannot_ask_for_hours_of_audio() -> None:
    thirty = "<break time='20s'/>" * 30  # 600 s: the most one document may ask for
    assert sum(p.seconds for p in parse_ssml(speak(f"A{thirty}B")).parts if isinstance(p, Break)) == 600
    with pytest.raises(BadRequest, match="over 600 s of silence") as caught:
        parse_ssml(speak(f"A{thirty}<break time='1ms'/>B"))
    assert caught.value.param == "text"


def test_voices_and_readings_are_limited_as_each_reading_is_an_upstream_session() -> None:
    voices = "".join(f"<voice name='{name}'>Part.</voice>" for name in ("alloy", "ash") * 25)
    assert len(parse_ssml(speak(voices)).parts) == 50
    with pytest.raises(BadRequest, match="more than 50 <voice>"):
        parse_ssml(speak(voices + "<voice name='alloy'>One more.</voice>"))
    rates = "".join(f"<prosody rate='{rate}'>Part.</prosody>" for rate in ("slow", "fast") * 100)
    assert len(parse_ssml(speak(rates)).parts) == 200
    with pytest.raises(BadRequest, match="more than 200 separate readings"):
        parse_ssml(speak(rates + "<prosody rate='slow'>One more.</prosody>"))
