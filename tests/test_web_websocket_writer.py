"""FrameWriter on a real loopback connection set up as the worker sets up a WebSocket's (blocking,
a small send buffer, ``SO_SNDTIMEO``): a slow reader gets every frame whole, a reader that stops
ends the connection cleanly with one log line."""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest
import websocket
from conftest import API_KEY
from serve_process import SERVE, clean_environ, launch
from simple_websocket import ConnectionClosed

from speech_realtime.usp.frames import text_frame
from speech_realtime.web.websocket_writer import FrameWriter, ReaderStalled

RID = "0123456789ABCDEF0123456789abcdef"

#: The send timeout of these connections (the worker uses the client timeout).
SEND_TIMEOUT = 0.3
#: Every wait gives up after this long, so a writer that hangs fails the test.
LIMIT = 10.0


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """(server side, client side): the client's receive buffer is small, so its pace rules."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.settimeout(LIMIT)
        client.connect(listener.getsockname())
        server, _ = listener.accept()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)
    seconds = int(SEND_TIMEOUT)
    server.setsockopt(
        socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", seconds, int((SEND_TIMEOUT - seconds) * 1e6))
    )
    with server, client:
        yield server, client


def frame(index: int, size: int) -> bytes:
    """A stand-in frame: its length, its index, then its index repeated."""
    return struct.pack(">IB", size, index) + bytes([index]) * size


def frames_in(data: bytes) -> tuple[list[int], bytes]:
    """The indexes of the whole frames in ``data`` (each checked byte for byte) and what is left."""
    found = []
    while len(data) >= 5:
        size, index = struct.unpack(">IB", data[:5])
        if len(data) < 5 + size:
            break
        assert data[5 : 5 + size] == bytes([index]) * size, f"frame {index} is torn"
        found.append(index)
        data = data[5 + size :]
    return found, data


def test_a_slow_reader_gets_every_frame_whole(pair) -> None:
    server, client = pair
    writer = FrameWriter(server, SEND_TIMEOUT, "test")
    sizes = [150_000, 10, 120_000, 3]  # each large one takes several send timeouts to take in

    def write() -> None:
        for index, size in enumerate(sizes):
            writer.send(frame(index, size))
        server.shutdown(socket.SHUT_WR)

    sender = threading.Thread(target=write)
    sender.start()
    received = b""
    pace = threading.Event()
    while chunk := client.recv(4096):  # in bursts of 32 KiB, well within the send timeout
        received += chunk
        if len(received) % (32 * 1024) < 4096:
            pace.wait(0.1)
    sender.join(LIMIT)
    assert not sender.is_alive()
    assert frames_in(received) == ([0, 1, 2, 3], b"")


def test_a_reader_that_stops_gets_a_clean_close_and_one_log_line(pair, caplog) -> None:
    server, client = pair
    writer = FrameWriter(server, SEND_TIMEOUT, "/ws from test")
    caplog.set_level(logging.INFO, logger="speech_realtime.web.websocket_writer")
    started = time.monotonic()
    with pytest.raises(ReaderStalled):
        for index in range(200):
            writer.send(frame(index % 256, 20_000))
    assert time.monotonic() - started < LIMIT
    with pytest.raises(ReaderStalled):  # later sends (a pong, the close frame) end at once
        writer.send(b"more")
    assert isinstance(ReaderStalled("x"), ConnectionClosed) and isinstance(ReaderStalled("x"), OSError)
    records = [r for r in caplog.records if r.name == "speech_realtime.web.websocket_writer"]
    assert len(records) == 1 and records[0].levelno == logging.WARNING and records[0].exc_info is None
    assert "read nothing" in records[0].getMessage() and "/ws from test" in records[0].getMessage()
    received = b""
    while chunk := client.recv(65536):  # the connection ends after what was sent
        received += chunk
    whole, rest = frames_in(received)
    assert whole == list(range(len(whole))) and len(rest) < 5 + 20_000  # at most the frame in progress


# -- end to end: an Azure SDK synthesis socket under ``serve`` ------------------------------------


@pytest.mark.subprocess
def test_a_synthesis_client_that_stops_reading_is_one_warning_and_no_traceback(upstream) -> None:
    env = clean_environ()
    env.update(
        {
            "AZURE_OPENAI_ENDPOINT": upstream.url,
            "AZURE_OPENAI_KEY": API_KEY,
            "AZURE_OPENAI_REALTIME_DEPLOYMENT": "gpt-realtime-test",
            "SPEECH_CLIENT_TIMEOUT": "3",  # the first upstream session takes a while to open
        }
    )
    started = launch(SERVE, env)
    stalled = websocket.WebSocket()
    stalled.sock_opt.sockopt = ((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),)
    try:
        stalled.connect(f"ws://{started.address}/cognitiveservices/websocket/v1", timeout=LIMIT)
        context = {
            "synthesis": {"audio": {"outputFormat": "raw-24khz-16bit-mono-pcm", "metadataOptions": {}}}
        }
        stalled.send(text_frame("synthesis.context", RID, context))
        words = " ".join(["a long reading that nobody listens to"] * 30)  # about 600 KB of audio
        stalled.send(text_frame("ssml", RID, f"<speak>{words}</speak>", "application/ssml+xml"))
        deadline = time.monotonic() + 3 * LIMIT
        while not any("read nothing" in line for line in started.log) and time.monotonic() < deadline:
            threading.Event().wait(0.05)
        threading.Event().wait(0.5)  # anything the socket loop logs after the stall
        stalls = [line for line in started.log if "read nothing" in line]
        assert len(stalls) == 1 and "WARNING" in stalls[0], started.log
        assert not [line for line in started.log if "Traceback" in line or "ERROR" in line], started.log
    finally:
        stalled.shutdown()
        started.stop()
