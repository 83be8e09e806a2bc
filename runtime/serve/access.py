"""Who may call the server: the API key (``--api-key-file`` or ``STYLEFORGE_API_KEY``), its constant-time check,
the rule that a non-loopback address needs a key (or ``--insecure``), and — without a key — the browser rule: a
request whose ``Host`` is not this server (DNS rebinding) or whose ``Origin`` is another site (a cross-site form
POST) is refused, so no web page the user visits can use a local server. The key is never logged."""
from __future__ import annotations

import hmac
import ipaddress
import os
from pathlib import Path

from ..errors import StyleForgeError

ENV_KEY = "STYLEFORGE_API_KEY"


def resolve_api_key(path: str | os.PathLike | None) -> str | None:
    """The key from `path` (its content, stripped) or from $STYLEFORGE_API_KEY; None when neither is set."""
    if path:
        p = Path(path)
        try:
            key = p.read_text("utf-8").strip()
        except OSError as e:
            raise StyleForgeError(f"--api-key-file {p}: cannot read it ({e.strerror})") from None
        if not key:
            raise StyleForgeError(f"--api-key-file {p}: the file is empty")
        return key
    return os.environ.get(ENV_KEY, "").strip() or None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, api_key: str | None, insecure: bool) -> None:
    """Refuse to listen beyond this machine without an API key, unless told so."""
    if not is_loopback(host) and not api_key and not insecure:
        raise StyleForgeError(f"refusing to bind {host} (not loopback) without an API key; give --api-key-file FILE "
                              f"or {ENV_KEY}, or --insecure to serve without one")


def authorized(header: str | None, key: bytes) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <key>`` (compared in constant time)."""
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), key)


def _split_host(host: str) -> tuple[str, int | None]:
    """``"[::1]:8000"`` → ("::1", 8000); ``"Example.org"`` → ("example.org", None); a bad port → port -1."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
    if not port:
        return name, None
    return name, int(port) if port.isdigit() else -1


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def host_refusal(host: str | None, port: int | None, allowed: tuple) -> str | None:
    """Why a ``Host`` header is refused, or None: it must name this server — an IP address or localhost with the bound
    `port` (no DNS name can be rebound to it), or an ``--allowed-host`` (``name`` or ``name:port``; ``*``: any)."""
    if "*" in allowed:
        return None
    if not host:
        return "a request without a Host header"
    text = host.strip().lower()
    name, given = _split_host(text)
    if text in allowed or name in allowed:
        return None
    if (name == "localhost" or _is_ip(name)) and (port is None or (given or 80) == port):
        return None
    return f"Host {host[:80]!r} is not this server (a reverse proxy's name needs --allowed-host)"


def origin_refusal(origin: str | None, host: str | None, allowed: tuple) -> str | None:
    """Why an ``Origin`` header is refused, or None: absent (not a browser's cross-site request), the server's own
    origin (the page at ``/``), or an ``--allowed-origin`` (``scheme://host[:port]``; ``*``: any)."""
    if origin is None or "*" in allowed:
        return None
    o = origin.strip().lower().rstrip("/")
    if o in allowed:
        return None
    scheme, sep, rest = o.partition("://")
    if sep and scheme in ("http", "https") and host and rest == host.strip().lower():
        return None
    return f"cross-origin request from {origin[:80]!r} (without an API key only this server's own page may post; " \
           "allow a site with --allowed-origin)"


def browser_refusal(headers, port: int | None, allowed_hosts: tuple, allowed_origins: tuple) -> str | None:
    """The browser rule for a keyless server (see the module docstring): why `headers` are refused, or None."""
    host = headers.get("host")
    return host_refusal(host, port, allowed_hosts) or origin_refusal(headers.get("origin"), host, allowed_origins)
