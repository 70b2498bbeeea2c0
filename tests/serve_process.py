"""A server in a child process, started and waited for until gunicorn says where it listens.

Shared by the tests that run ``speech-realtime serve`` (or an app under web/server.py) for real.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: ``speech-realtime serve`` on 127.0.0.1 at a port the system picks.
SERVE = [sys.executable, "-m", "speech_realtime", "serve", "--port", "0"]


def clean_environ() -> dict[str, str]:
    """This process's environment without any AZURE_, OPENAI_ or SPEECH_ setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "SPEECH_"))}


@dataclass
class Started:
    """A server that said where it listens: the process, ``127.0.0.1:<port>``, and its log so far."""

    process: subprocess.Popen
    address: str
    log: list[str]  # its stderr, kept by a thread as it comes (shown when a test fails)

    @property
    def port(self) -> int:
        return int(self.address.rpartition(":")[2])

    def stop(self, timeout: float = 20) -> None:
        self.process.terminate()
        self.process.wait(timeout=timeout)


def launch(command: list[str], env: dict[str, str], *, watchdog: float = 60) -> Started:
    """Run ``command`` from the repository root and read its log up to gunicorn's "Listening at".

    A process that has not said where it listens within ``watchdog`` seconds is killed; one that
    ends first fails the test, with its log.
    """
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    stderr = process.stderr
    assert stderr is not None
    log: list[str] = []
    timer = threading.Timer(watchdog, process.kill)
    timer.start()
    address = None
    for line in stderr:
        log.append(line)
        if found := re.search(r"Listening at: http://(127\.0\.0\.1:\d+)", line):
            address = found.group(1)
            break
    timer.cancel()
    if address is None:
        process.kill()
        process.wait(timeout=10)
        pytest.fail("the server did not start:\n" + "".join(log))
    threading.Thread(target=lambda: log.extend(stderr), daemon=True).start()  # keeps draining it
    return Started(process, address, log)
