"""The ``speech-realtime`` command: serve, voices, check."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

from .config import Backend, Settings, is_loopback
from .engine.process import EngineProcess
from .errors import ConfigError, SpeechError
from .logs import configure as configure_logging
from .metrics_dir import multiprocess_directory
from .tokens import new_secret
from .voices import ALIASES, voices_for


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="speech-realtime",
        description="REST speech-to-text and text-to-speech over Realtime speech sessions.",
    )
    parser.add_argument("--env-file", default=".env", help="optional .env file (default: .env)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP service under gunicorn")
    serve.add_argument("--host", help="bind address (default: $HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: $PORT or 5000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument(
        "--threads",
        type=int,
        help="threads per worker (default: its share of SPEECH_MAX_SESSIONS and SPEECH_MAX_WEBSOCKETS + 8)",
    )

    engine = commands.add_parser("engine", help="run the offline Realtime engine on its own")
    engine.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    engine.add_argument("--port", type=int, default=8765, help="port; 0 picks a free one (default 8765)")
    engine.add_argument("--exit-with-stdin", action="store_true", help=argparse.SUPPRESS)

    commands.add_parser("voices", help="list the voices and the names mapped onto them")
    commands.add_parser("check", help="open one session with the configured backend and time it")
    return parser


def protected_mode(settings: Settings, host: str) -> None:
    """Refuse to serve a non-loopback address without inbound keys (as Redis does), unless the
    operator said anonymous access is intended."""
    if is_loopback(host) or settings.api_keys or settings.allow_anonymous:
        return
    raise ConfigError(
        f"refusing to serve {host} without inbound keys: anyone who can reach the port would spend "
        "the backend's credentials. Set SPEECH_API_KEYS (comma-separated) or SPEECH_API_KEYS_FILE "
        "(one key a line), or SPEECH_ALLOW_ANONYMOUS=true if open access is intended, or bind "
        "127.0.0.1"
    )


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from .web import create_app
    from .web.server import PerWorker, serve

    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    protected_mode(settings, host)
    # The bind address decides the default allowed Host names; the token secret is made once
    # here, before gunicorn forks, so that every worker accepts every other worker's tokens.
    settings = settings.with_changes(
        host=host, port=port, token_secret=settings.token_secret or new_secret(), workers=max(1, args.workers)
    )
    settings.check_workers()
    engine = None
    if settings.backend == Backend.LOCAL and not settings.engine_url:
        engine = EngineProcess.start()
        settings = settings.with_changes(engine_url=engine.url)
    try:
        # Built here to fail early on a bad configuration; each worker builds its own, with its
        # share of the session and WebSocket limits.
        app = create_app(settings)
        endpoint = app.extensions["speech"].endpoint
        _announce(
            settings,
            f"speech-realtime: {endpoint.backend} backend ({endpoint.dialect}, model {endpoint.model}) "
            f"on http://{host}:{port}/api/speech-realtime/info",
        )
        serve(
            PerWorker(create_app), settings, host=host, port=port, workers=args.workers, threads=args.threads
        )
    finally:
        if engine is not None:
            engine.stop()
    return 0


def _announce(settings: Settings, line: str) -> None:
    """A start-up line on stderr; with LOG_FORMAT=json a log record, so every line is JSON."""
    if settings.log_format == "json":
        logging.getLogger(__name__).info("%s", line)
    else:
        print(line, file=sys.stderr)


def _engine(settings: Settings, args: argparse.Namespace) -> int:
    from .engine.models import shared_models
    from .engine.server import EngineServer

    if args.exit_with_stdin:
        threading.Thread(target=_exit_at_stdin_eof, daemon=True).start()
    models = shared_models(settings.engine_threads, settings.engine_device)
    models.warm_up()
    server = EngineServer(args.host, args.port, models, latency=settings.engine_latency)
    # SIGTERM only sets the event (a handler that started a thread could deadlock on a lock the
    # interrupted main thread holds); the drain stops the server, and serve_forever returns.
    stopping = threading.Event()
    threading.Thread(
        target=lambda: stopping.wait() and server.drain(settings.graceful_timeout), name="drain", daemon=True
    ).start()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stopping.set())
    print(f"{EngineProcess.READY}{server.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    # No interpreter shutdown: the models' native thread pools have nothing to save, and their
    # teardown at exit can take seconds.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _exit_at_stdin_eof() -> None:
    sys.stdin.read()
    os._exit(0)


def _voices(settings: Settings) -> int:
    dialect = settings.dialect
    print(f"voices ({dialect} protocol): {' '.join(voices_for(dialect))}")
    for alias, voice in ALIASES.items():
        print(f"  {alias} -> {voice}")
    return 0


def _check(settings: Settings) -> int:
    from .speech import SpeechService

    try:
        service = SpeechService(settings)
        result = service.check()
    except ConfigError:
        raise
    except SpeechError as exc:
        print(f"check failed: {exc.message}", file=sys.stderr)
        return 1
    print(f"backend:    {result['backend']}")
    print(f"protocol:   {result['protocol']}")
    print(f"deployment: {result['model']}")
    print(f"host:       {result['host']}")
    print(f"auth:       {result['auth']}")
    print(f"handshake:  {result['handshakeMs']} ms")
    print(f"session:    {result['sessionMs']} ms (session.update -> session.updated)")
    transcription = result.get("transcription")
    if transcription:
        print(f"transcription: {transcription['deployment']}, session {transcription['sessionMs']} ms")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a configuration problem is one line on stderr and exit code 2."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings.load(args.env_file)
        configure_logging(settings)
        if args.command == "serve":
            with multiprocess_directory() as metrics_dir:
                return _serve(settings.with_changes(metrics_dir=metrics_dir), args)
        if args.command == "engine":
            return _engine(settings, args)
        if args.command == "voices":
            return _voices(settings)
        return _check(settings)
    except ConfigError as exc:
        print(f"speech-realtime: configuration error: {exc.message}", file=sys.stderr)
        return 2
