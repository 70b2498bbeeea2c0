"""The opening handshake of a WebSocket, checked before anything accepts it (RFC 6455, 4.2.1).

flask-sock hands any request that says ``Upgrade: websocket`` to simple-websocket, which
upgrades a ``HEAD`` or a malformed key with 101 and fails on a missing version with an
exception (a 500). The web app and the engine (each its own Flask app) call
:func:`check_upgrade` first, so a bad handshake is a clear 400, or RFC 6455's 426 naming the
version the service speaks, and is never upgraded.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from .errors import BadRequest, UpgradeRequired

#: The only WebSocket protocol version (RFC 6455).
VERSION = "13"
#: Bytes of the random nonce that ``Sec-WebSocket-Key`` carries in base64.
KEY_BYTES = 16


def check_upgrade(method: str, headers: Mapping[str, str]) -> None:
    """:class:`BadRequest` or :class:`UpgradeRequired` unless ``method`` and ``headers`` (looked
    up case-insensitively, as werkzeug's are) make a valid opening handshake."""
    if method != "GET":
        raise BadRequest(f"a WebSocket upgrade must be a GET request, not {method[:16]}")
    version = headers.get("Sec-WebSocket-Version", "").strip()
    if version != VERSION:
        given = f"version {version[:16]!r}" if version else "no Sec-WebSocket-Version"
        raise UpgradeRequired(
            f"the WebSocket upgrade asks for {given}; this service speaks version {VERSION}"
        )
    if not _valid_key(headers.get("Sec-WebSocket-Key", "").strip()):
        raise BadRequest(f"Sec-WebSocket-Key must be the base64 of {KEY_BYTES} bytes")


def _valid_key(key: str) -> bool:
    try:
        return len(base64.b64decode(key, validate=True)) == KEY_BYTES
    except (binascii.Error, ValueError):
        return False
