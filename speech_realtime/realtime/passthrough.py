"""Where a pass-through client's session goes: the configured upstream, in the client's dialect.

The client's path and handshake say which protocol it speaks: ``/openai/realtime`` (Azure's
preview shape, rt-client) is the preview dialect, as is any path with ``OpenAI-Beta:
realtime=v1`` or the ``openai-beta.realtime-v1`` subprotocol (the openai SDK's beta client,
browsers); ``/v1/realtime`` and ``/openai/v1/realtime`` otherwise speak GA. The upstream
session is opened in that dialect on the *configured* backend and deployment or model:
the query's ``model``, ``deployment`` and ``api-version`` choose nothing (a client cannot reach
another deployment, model or API version through the service); ``session.created`` tells it
which model it got. Azure in the preview dialect uses ``AZURE_OPENAI_API_VERSION``, or
:data:`PREVIEW_API_VERSION` when only GA is configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from ..config import Backend, Settings
from ..errors import ConfigError
from .events import GA, PREVIEW, Dialect
from .transport import Endpoint, _ws_base

#: The path of Azure's preview shape.
PREVIEW_PATH = "/openai/realtime"
#: The preview API version used when the configuration names none (GA configured).
PREVIEW_API_VERSION = "2025-04-01-preview"
BETA_SUBPROTOCOL = "openai-beta.realtime-v1"


def client_dialect(path: str, headers: Mapping[str, str]) -> Dialect:
    """The dialect a client on ``path`` with these handshake ``headers`` speaks."""
    if path == PREVIEW_PATH or "realtime=v1" in headers.get("OpenAI-Beta", ""):
        return PREVIEW
    offered = {part.strip() for part in headers.get("Sec-WebSocket-Protocol", "").split(",")}
    return PREVIEW if BETA_SUBPROTOCOL in offered else GA


def upstream_endpoint(settings: Settings, dialect: Dialect) -> Endpoint:
    """The configured backend's Realtime endpoint, in ``dialect``."""
    if settings.backend == Backend.AZURE:
        base = _ws_base(settings.azure_endpoint or "")
        deployment = quote(settings.azure_deployment, safe="")
        if dialect == PREVIEW:
            version = quote(settings.azure_api_version or PREVIEW_API_VERSION, safe="")
            url = f"{base}/openai/realtime?api-version={version}&deployment={deployment}"
        else:
            url = f"{base}/openai/v1/realtime?model={deployment}"
        return Endpoint(Backend.AZURE, url, dialect, settings.azure_deployment)
    if settings.backend == Backend.OPENAI:
        url = f"{_ws_base(settings.openai_base_url)}/realtime?model={quote(settings.openai_model)}"
        return Endpoint(Backend.OPENAI, url, dialect, settings.openai_model)
    if not settings.engine_url:
        raise ConfigError("the local backend needs the engine's URL (SPEECH_ENGINE_URL)")
    url = f"{_ws_base(settings.engine_url)}/v1/realtime?model={quote(settings.model)}"
    return Endpoint(Backend.LOCAL, url, dialect, settings.model)
