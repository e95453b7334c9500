"""WebSocket Origin policy against cross-site WebSocket hijacking (spec peers §3.2).

Browsers let any page open a WebSocket to 127.0.0.1; only the Origin header tells
us which page it is. Non-browser clients (afb-client) send none and are allowed.
"""
from __future__ import annotations

from typing import Iterable
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
