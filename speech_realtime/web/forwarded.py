"""The client's address behind a proxy: ``X-Forwarded-For``, believed only from trusted proxies.

Behind a load balancer every connection comes from the balancer, so the access log (and
anything else reading ``REMOTE_ADDR``) would name it instead of the client. gunicorn believes
``X-Forwarded-Proto`` from ``forwarded_allow_ips`` (:mod:`.gunicorn_config` gives it
``SPEECH_FORWARDED_ALLOW_IPS``) but leaves ``REMOTE_ADDR`` alone; :class:`ForwardedFor` sets it
from ``X-Forwarded-For`` under the same rule. The header is read from the right: each proxy
appends the address it was reached from, so the rightmost address that is not a trusted proxy
is the client as far as a trusted hop can vouch; anything left of it was written by the client
and may be forged. The peer's own address is kept in ``speech.peer_addr``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

#: The WSGI environ key that keeps the connection's own peer address.
PEER_KEY = "speech.peer_addr"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class TrustedProxies:
    """Addresses and networks whose forwarding headers are believed; ``*`` believes any peer."""

    def __init__(self, entries: Iterable[str]) -> None:
        entries = tuple(entries)
        self.any = "*" in entries
        self._networks = tuple(ipaddress.ip_network(entry) for entry in entries if entry != "*")

    def __bool__(self) -> bool:
        return self.any or bool(self._networks)

    def trusts(self, address: str) -> bool:
        if self.any:
            return True
        try:
            ip = ipaddress.ip_address(address.strip().strip("[]"))
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def client(self, peer: str, forwarded_for: str) -> str:
        """The client's address: ``peer`` unless it is trusted, then the rightmost address of
        ``forwarded_for`` that is not (the leftmost when every hop is trusted)."""
        if not self.trusts(peer):
            return peer
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self.trusts(hop):
                return _valid(hop) or peer
        return (_valid(hops[0]) or peer) if hops else peer


def _valid(address: str) -> str | None:
    """``address`` when it is an IP address (a forged header may hold anything)."""
    try:
        return str(ipaddress.ip_address(address.strip("[]")))
    except ValueError:
        return None


class ForwardedFor:
    """WSGI middleware: ``REMOTE_ADDR`` is the client's address as :class:`TrustedProxies` reads it."""

    def __init__(self, app: WsgiApp, proxies: TrustedProxies) -> None:
        self.app = app
        self.proxies = proxies

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        peer = environ.get("REMOTE_ADDR", "")
        environ[PEER_KEY] = peer
        forwarded_for = environ.get("HTTP_X_FORWARDED_FOR")
        if forwarded_for and peer:
            environ["REMOTE_ADDR"] = self.proxies.client(peer, forwarded_for)
        return self.app(environ, start_response)


def believe_forwarded(app: Any, entries: Iterable[str]) -> Any:
    """``app`` (a Flask app) with :class:`ForwardedFor` around its WSGI callable when any proxy
    is trusted (once); the app itself is returned, so its ``extensions`` stay where the worker
    looks."""
    proxies = TrustedProxies(entries)
    if proxies and hasattr(app, "wsgi_app") and not isinstance(app.wsgi_app, ForwardedFor):
        app.wsgi_app = ForwardedFor(app.wsgi_app, proxies)
    return app
