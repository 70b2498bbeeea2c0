"""The Realtime API's two HTTP routes for browsers: client secrets and WebRTC calls (OpenAI's GA
shapes, OpenAI's error envelope). The secret logic is :mod:`..realtime.client_secrets` and
:mod:`..realtime.policy`; the upstream call is :mod:`..realtime.calls`; :mod:`.security`
checks the credentials (and uses up a client secret) before either route runs.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from ..callers import CALLER
from ..errors import BadRequest, PayloadTooLarge, UnsupportedMedia
from ..realtime import calls, client_secrets
from ..realtime.policy import minted_session
from ..realtime.session_fields import SESSION_TYPE, changed_fixed, leaves
from .context import speech_service
from .contract.operations import documented
from .contract.realtime import CALL, CLIENT_SECRET
from .inputs import json_body, read_body
from .security import TOKEN_SECRET

realtime_http = Blueprint("realtime_http", __name__, url_prefix="/v1")


def _effective(session: dict[str, Any]) -> dict[str, Any]:
    """The session as the upstream gets it: the service's model, then the allowed options."""
    return {"type": SESSION_TYPE, "model": speech_service().settings.model, **session}


@realtime_http.post("/realtime/client_secrets")
@documented(CLIENT_SECRET)
def create_client_secret() -> Response:
    """Mint a short-lived, single-use client secret (needs an inbound key: ``Authorization:
    Bearer``).

    Request (JSON, both optional): ``expires_after`` ``{"anchor": "created_at", "seconds":
    10..SPEECH_REALTIME_SECRET_MAX_SECONDS}`` (default 600 or that maximum) and ``session``, a GA
    Realtime session whose options the secret fixes: ``type`` ("realtime"), ``instructions``,
    ``audio.input.{format, transcription, turn_detection, noise_reduction}``,
    ``audio.output.{format, voice, speed}``, ``output_modalities``, ``max_output_tokens``,
    ``include`` (``tools``/``tool_choice`` with ``SPEECH_REALTIME_TOOLS``); ``model`` is ignored.

    Answer 200 JSON: ``{"value": "ek_...", "expires_at": <unix seconds>, "session": {"type":
    "realtime", "model": <configured>, ...the fixed options}}``. Errors: 400 naming the field
    (``expires_after.seconds``, ``session.<field>``), 401, 415.
    """
    body = json_body()
    settings = speech_service().settings
    seconds = client_secrets.lifetime(body.get("expires_after"), settings.realtime_secret_max_seconds)
    session = minted_session(body.get("session"), settings.realtime_tools)
    key: bytes = current_app.extensions[TOKEN_SECRET]
    value, claims = client_secrets.mint(key, session, caller=CALLER.get(), seconds=seconds)
    return jsonify({"value": value, "expires_at": claims.expires_at, "session": _effective(session)})


@realtime_http.post("/realtime/calls")
@documented(CALL)
def create_call() -> Response:
    """Forward a browser's WebRTC offer upstream with the service's credentials (needs a client
    secret or an inbound key, as the Realtime upgrades do).

    Request: the SDP offer as the body (``Content-Type: application/sdp``), or
    ``multipart/form-data`` with an ``sdp`` part and an optional ``session`` part (JSON, the same
    fields as a client secret's session; none may change an option the client secret fixed).
    Answer 201 ``application/sdp``: the upstream's SDP answer, with ``Location`` (the call's
    path) when the upstream gives one. Errors: 400 naming the field, 401, 413 (offer over 64 KiB),
    415, 501 on the offline engine (use the WebSocket routes), 502/503/504 for the upstream.
    """
    service = speech_service()
    url = calls.calls_url(service.settings)
    sdp, session = _offer()
    session = minted_session(session, service.settings.realtime_tools)
    claims = g.get("client_secret")
    fixed = claims.session if claims else {}
    changed = changed_fixed(session, leaves(fixed))
    if changed is not None:
        field = ".".join(("session", *changed))
        raise BadRequest(
            f"{field!r} was fixed when the client secret was minted", code="field_fixed", param=field
        )
    upstream = _effective(_merged(session, fixed))
    answer = calls.create_call(url, service.auth.headers(), sdp, upstream, service.settings.request_timeout)
    response = Response(answer.sdp, status=201, mimetype="application/sdp")
    if answer.location:
        response.headers["Location"] = answer.location
    return response


def _offer() -> tuple[str, object]:
    """The SDP offer and the client's session (None when it sent none)."""
    if request.content_length is not None and request.content_length > calls.MAX_SDP_BYTES + 16384:
        raise PayloadTooLarge(f"the offer is larger than {calls.MAX_SDP_BYTES} bytes", param="sdp")
    if request.mimetype == "application/sdp":
        return _sdp(read_body(calls.MAX_SDP_BYTES).decode("utf-8", "replace")), None
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMedia(
            f"expected application/sdp or multipart/form-data, got {request.mimetype or 'none'!r}",
            param="body",
        )
    upload = request.files.get("sdp")
    sdp = (
        upload.read(calls.MAX_SDP_BYTES + 1).decode("utf-8", "replace")
        if upload
        else request.form.get("sdp", "")
    )
    raw = request.form.get("session")
    if raw is None and "session" in request.files:
        raw = request.files["session"].read(calls.MAX_SDP_BYTES).decode("utf-8", "replace")
    try:
        session = json.loads(raw) if raw else None
    except ValueError:
        raise BadRequest("the session part is not valid JSON", code="invalid_json", param="session") from None
    return _sdp(sdp), session


def _sdp(text: str) -> str:
    if len(text.encode()) > calls.MAX_SDP_BYTES:
        raise PayloadTooLarge(f"the offer is larger than {calls.MAX_SDP_BYTES} bytes", param="sdp")
    if not text.lstrip().startswith("v=0"):
        raise BadRequest("the offer is not an SDP description (it must start with v=0)", param="sdp")
    return text


def _merged(session: dict[str, Any], fixed: dict[str, Any]) -> dict[str, Any]:
    """``session`` with every option of ``fixed`` set (nested objects merged)."""
    merged = dict(session)
    for key, value in fixed.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged
