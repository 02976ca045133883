"""API keys: bearer tokens from ``RAGBOT_API_KEYS``; required whenever keys are set, and off loopback."""
from __future__ import annotations

import hmac
import ipaddress
import os

from rag.errors import ConfigError


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def keys_from_env(env: dict | None = None) -> frozenset[str]:
    """The comma-separated keys of ``RAGBOT_API_KEYS`` (blank entries ignored)."""
    env = os.environ if env is None else env
    return frozenset(k.strip() for k in (env.get("RAGBOT_API_KEYS") or "").split(",") if k.strip())


def check_binding(host: str, keys) -> None:
    """Serving off loopback without keys would open the documents to the network: refuse to start."""
    if not is_loopback(host) and not keys:
        raise ConfigError(
            f"serving on {host} needs API keys: set RAGBOT_API_KEYS (comma-separated bearer tokens) or "
            "RAGBOT_API_KEYS_FILE (scoped keys: `ragbot keys add`), or bind to 127.0.0.1"
        )


def authorized(header: str | None, keys: frozenset[str]) -> bool:
    """Whether an ``Authorization`` header carries one of ``keys`` (always, when there are none)."""
    if not keys:
        return True
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    token = token.strip().encode()
    return any(hmac.compare_digest(token, k.encode()) for k in keys)
