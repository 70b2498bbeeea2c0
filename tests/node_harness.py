"""Node.js harnesses of the official JavaScript clients, installed from npm by a project script."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def install_harness(script: str, what: str) -> Path:
    """The harness directory ``scripts/<script>`` installs and prints; the test is skipped, with
    the reason, where node and npm are missing or npm cannot provide ``what``."""
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip(f"node and npm are needed for {what} and are not installed")
    done = subprocess.run([str(ROOT / "scripts" / script)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.skip(f"{what} could not be installed from npm: {done.stderr.strip()[-300:]}")
    return Path(done.stdout.strip())
