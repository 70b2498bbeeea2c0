"""The engine in a child process, shared by every gunicorn worker of ``serve``."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from typing import IO

from ..errors import SpeechError

log = logging.getLogger(__name__)


class EngineProcess:
    """One engine in a child process (``speech-realtime engine --port 0``).

    The child prints its URL on a ready line; after that its stdout is drained into this
    process's log by a thread, so a chatty engine never fills the pipe and blocks. The child reads
    its stdin until EOF, so it exits when this process does, however it ends.
    """

    READY = "engine listening on "

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url
        assert process.stdout is not None
        self._drain = threading.Thread(
            target=_drain, args=(process.stdout,), name="engine-stdout", daemon=True
        )
        self._drain.start()

    @classmethod
    def start(cls, timeout: float = 120) -> EngineProcess:
        command = [sys.executable, "-m", "speech_realtime", "engine", "--port", "0", "--exit-with-stdin"]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        watchdog = threading.Timer(timeout, process.kill)
        watchdog.start()
        try:
            for line in process.stdout:
                if line.startswith(cls.READY):
                    url = line[len(cls.READY) :].strip()
                    print(f"speech-realtime: local engine ready at {url}", file=sys.stderr)
                    return cls(process, url)
        finally:
            watchdog.cancel()
        process.kill()
        raise SpeechError(f"the local engine did not start within {timeout:g} s; see its log above")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._drain.join(timeout=5)


def _drain(stdout: IO[str]) -> None:
    """Read the child's stdout to its end, logging each line."""
    with stdout:
        for line in stdout:
            log.info("engine: %s", line.rstrip()[:500])
