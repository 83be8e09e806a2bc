"""Who may call the server: the API key (``--api-key-file`` or ``STYLEFORGE_API_KEY``), its constant-time check,
and the rule that a non-loopback address needs a key (or ``--insecure``). The key is never logged."""
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
