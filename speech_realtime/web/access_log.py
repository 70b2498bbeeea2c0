"""gunicorn's logs in the service's format: its error log, and an access log with request ids.

The access log names the path without its query string: browsers' Speech SDK sockets carry
their key or token in the query (``?Authorization=...``), and gunicorn's default format logs
the whole request line. Each line has the answer's ``X-Request-ID``, so it joins the lines the
request itself wrote. With ``LOG_FORMAT=json`` it is one JSON object with named fields.
"""

from __future__ import annotations

from typing import Any

from gunicorn import glogging

from ..logs import REQUEST_ID, attach
from .request_ids import HEADER

#: The text access line: client, method and path (no query), status, bytes, milliseconds, id.
TEXT_ACCESS_FORMAT = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s'


class ServiceLogger(glogging.Logger):
    """gunicorn's logger with the service's formatter and request-id filter on its handlers."""

    log_format = "text"

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        attach(self.error_log.handlers, self.log_format)
        if self.log_format == "json":
            attach(self.access_log.handlers, self.log_format)

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        """Text: gunicorn's line in :data:`TEXT_ACCESS_FORMAT`. JSON: the same facts as fields."""
        if self.log_format != "json":
            super().access(resp, req, environ, request_time)
            return
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        headers = dict((name.lower(), value) for name, value in resp.headers)
        fields = {
            "remote": environ.get("REMOTE_ADDR", "-"),
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": int(status),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "user_agent": environ.get("HTTP_USER_AGENT"),
        }
        token = REQUEST_ID.set(headers.get(HEADER.lower(), "-"))
        try:
            self.access_log.info("%s %s %s", fields["method"], fields["path"], status, extra=fields)
        finally:
            REQUEST_ID.reset(token)


def logger_class(log_format: str) -> type[ServiceLogger]:
    """The logger class gunicorn is given for ``LOG_FORMAT``."""
    return type("ServiceLogger", (ServiceLogger,), {"log_format": log_format})
