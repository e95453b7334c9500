"""WebSocket Origin policy against cross-site WebSocket hijacking (spec peers §3.2).

Browsers let any page open a WebSocket to 127.0.0.1; only the Origin header tells
us which page it is. Non-browser clients (afb-client) send none and are allowed.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def _host_port(netloc: str, scheme: str) -> str:
    netloc = netloc.lower()
    port = DEFAULT_PORTS.get(scheme)
    if port is not None and netloc.endswith(f":{port}"):
        netloc = netloc[: -len(f":{port}")]
    return netloc


def origin_allowed(origin: str | None, host: str | None, allowed: Iterable[str]) -> bool:
    """No Origin, same host:port as the Host header, or listed with --allow-origin."""
    if origin is None:
        return True
    normalized = origin.strip().rstrip("/").lower()
    if any(entry == "*" or entry.rstrip("/").lower() == normalized for entry in allowed):
        return True
    parts = urlsplit(normalized)
    if not parts.netloc or host is None:
        return False
    return _host_port(parts.netloc, parts.scheme) == _host_port(host, parts.scheme)


def cross_site_refused(headers: Mapping[str, str], allowed: Iterable[str]) -> bool:
    """A browser request sent by another site's page (WebSocket upgrade or REST call).

    Simple GETs and form POSTs need no CORS preflight, so a page could start commands
    through REST as well: with an Origin header the Origin policy decides; without one,
    the browser's `Sec-Fetch-Site` tells a cross-site request apart from curl/afb-client.
    """
    origin = headers.get("Origin")
    if origin is not None:
        return not origin_allowed(origin, headers.get("Host"), allowed)
    site = headers.get("Sec-Fetch-Site", "").lower()
    return site in ("cross-site", "same-site") and "*" not in allowed
