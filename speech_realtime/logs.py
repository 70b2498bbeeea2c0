"""Logging: one format for the whole process (text or one JSON object a line), with request ids.

The web layer puts the current request's id in :data:`REQUEST_ID` (a context variable, so each
request thread sees its own); :func:`tag_records` makes every log record carry it as
``request_id`` from the moment it is created ("-" outside a request), so every line a request
writes, at any level, from any module and to any handler, carries it. :class:`RequestIdFilter`
does the same for records made before that (handlers of the service's formats have it).
JSON lines are written by python-json-logger's formatter: a plain :class:`logging.Formatter`,
so the standard ``logging`` calls all over the code, gunicorn's error log and its access log
all use it unchanged (structlog would ask for its own logging calls, or a bridge to them).

What is never logged (keys, tokens, audio, the text being synthesized or recognized) is kept
out where the messages are written; this module adds no fields from requests beyond the id.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from .config import Settings

#: The id of the request the current thread (or context) is serving.
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
#: The fields of a JSON line (python-json-logger adds any ``extra`` fields after them).
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(process)d"
JSON_RENAMES = {"asctime": "time", "levelname": "level", "name": "logger"}


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record that has none of its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = REQUEST_ID.get()
        return True


def tag_records() -> None:
    """Make every new log record carry the current request id (idempotent)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "tags_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        record.request_id = REQUEST_ID.get()
        return record

    factory.tags_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def formatter(log_format: str) -> logging.Formatter:
    """The formatter for ``LOG_FORMAT`` (``text`` or ``json``)."""
    if log_format == "json":
        return JsonFormatter(JSON_FIELDS, rename_fields=JSON_RENAMES, json_ensure_ascii=False)
    return logging.Formatter(TEXT_FORMAT)


def attach(handlers: Iterable[logging.Handler], log_format: str) -> None:
    """Give ``handlers`` the format and the request-id filter (gunicorn's loggers use this)."""
    for handler in handlers:
        handler.setFormatter(formatter(log_format))
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())


def configure(settings: Settings) -> None:
    """The root logger for the process: stderr, ``LOG_LEVEL``, ``LOG_FORMAT``, request ids.

    Like :func:`logging.basicConfig`, it leaves a root logger that has handlers already alone
    (a program embedding the service, or pytest, configured it).
    """
    tag_records()
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    attach([handler], settings.log_format)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
