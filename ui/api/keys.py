"""API keys with scopes: which collections a key opens, and whether it may change them.

Two sources, read when the server starts:

- ``RAGBOT_API_KEYS``: comma-separated bearer tokens, each with full access (as before scopes);
- ``RAGBOT_API_KEYS_FILE``: a TOML file of named keys, each stored as the SHA-256 of the token
  (tokens are 256-bit random strings, so a plain hash is as good as a slow one and lets a request
  find its key by lookup); ``ragbot keys add NAME --collections a,b --read-only`` writes one and
  prints the token once::

      [keys.public-site]
      sha256 = "9f86d0..."
      collections = ["public"]     # or ["*"]: every collection
      write = false                # may upload and delete

A key never learns of a collection it cannot read: to it the collection does not exist.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from rag.errors import ConfigError, InputError

ALL = "*"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Scope:
    """What one caller may do: read (ask, search, list) ``collections`` (None: all), and, with
    ``write``, upload and delete in them."""

    name: str
    collections: frozenset[str] | None = None
    write: bool = True

    def reads(self, collection: str) -> bool:
        return self.collections is None or collection in self.collections

    def writes(self, collection: str) -> bool:
        return self.write and self.reads(collection)

    def visible(self, names: list[str]) -> list[str]:
        return [n for n in names if self.reads(n)]


FULL = Scope("full access")  # loopback without keys, stdio MCP, and the plain RAGBOT_API_KEYS

# The scope of the request being served: set by the HTTP key check for everything under it (MCP's
# tools and resources run in tasks and threads that inherit it), and to FULL by ``ragbot mcp``
# (stdio). Unset means no caller was checked: MCP then refuses.
CALLER: ContextVar[Scope | None] = ContextVar("ragbot_caller", default=None)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class KeyRing:
    """Every key the server accepts, by the hash of its token; empty means no key is asked for."""

    def __init__(self, scopes: Mapping[str, Scope] | None = None):
        self._by_hash = dict(scopes or {})

    @classmethod
    def plain(cls, tokens) -> "KeyRing":
        """Full-access keys given in the clear (``RAGBOT_API_KEYS``)."""
        return cls({token_hash(t): Scope(f"key {i + 1} of RAGBOT_API_KEYS") for i, t in enumerate(sorted(tokens))})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "KeyRing":
        env = os.environ if env is None else env
        ring = cls.plain(k.strip() for k in (env.get("RAGBOT_API_KEYS") or "").split(",") if k.strip())
        if env.get("RAGBOT_API_KEYS_FILE"):
            ring._by_hash.update(read_key_file(Path(env["RAGBOT_API_KEYS_FILE"]))._by_hash)
        return ring

    def __bool__(self) -> bool:
        return bool(self._by_hash)

    def __len__(self) -> int:
        return len(self._by_hash)

    def scopes(self) -> list[Scope]:
        return sorted(self._by_hash.values(), key=lambda s: s.name)

    def scope_for(self, header: str | None) -> Scope | None:
        """The scope of the key an ``Authorization: Bearer`` header carries; FULL when no key is
        asked for; None for a missing or unknown key."""
        if not self._by_hash:
            return FULL
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        digest = token_hash(token.strip())
        for known, scope in self._by_hash.items():
            if hmac.compare_digest(digest, known):
                return scope
        return None


NOBODY = Scope("nobody", frozenset(), False)


class Logins:
    """Who may sign in to the app, and with what scope: ``RAGBOT_UI_USER`` / ``RAGBOT_UI_PASSWORD``
    with full access, and each named key of the key file (user: the key's name, password: the key)
    with that key's scope. No login configured: everyone (on loopback) has full access."""

    def __init__(self, user: str = "", password: str = "", keys: KeyRing | None = None):
        self.user, self._password = user, password
        self._keys = keys or KeyRing()
        self._named = {scope.name: scope for scope in self._keys.scopes()}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Logins":
        env = os.environ if env is None else env
        user, password = env.get("RAGBOT_UI_USER") or "", env.get("RAGBOT_UI_PASSWORD") or ""
        if bool(user) != bool(password):
            raise ConfigError("set both RAGBOT_UI_USER and RAGBOT_UI_PASSWORD to require a login, or neither")
        keys = read_key_file(Path(env["RAGBOT_API_KEYS_FILE"])) if env.get("RAGBOT_API_KEYS_FILE") else None
        return cls(user, password, keys)

    def __bool__(self) -> bool:
        return bool(self.user or self._named)

    def check(self, user: str, password: str) -> bool:
        """Gradio's login check."""
        if self.user and hmac.compare_digest(str(user), self.user) and hmac.compare_digest(str(password), self._password):
            return True
        scope = self._keys.scope_for(f"Bearer {password}") if self._keys else None
        return scope is not None and scope.name == user and user in self._named

    def scope(self, user: str | None) -> Scope:
        """The scope of a signed-in user (None: no login is asked for, full access)."""
        if not self:
            return FULL
        if user and user == self.user:
            return FULL
        return self._named.get(user or "", NOBODY)


def read_key_file(path: Path) -> KeyRing:
    """The named keys of a key file; a clear error for a file that cannot be read or is malformed."""
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return KeyRing()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"key file {path}: {exc}") from exc
    scopes = {}
    for name, entry in (data.get("keys") or {}).items():
        try:
            digest, collections, write = entry["sha256"], list(entry.get("collections", [ALL])), bool(entry.get("write", False))
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"key file {path}: key {name!r} needs sha256, collections and write") from exc
        if not re.fullmatch(r"[0-9a-f]{64}", str(digest)):
            raise ConfigError(f"key file {path}: key {name!r} has no valid sha256")
        scopes[digest] = Scope(name, None if ALL in collections else frozenset(map(str, collections)), write)
    return KeyRing(scopes)


def add_key(path: Path, name: str, collections: list[str], write: bool) -> str:
    """Add a named key to the key file (made if missing) and return its token, which is not stored."""
    import tomllib

    import tomli_w

    if not _NAME.match(name):
        raise InputError(f"key name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
    if not collections:
        raise InputError("name the collections the key opens (--collections a,b, or '*' for all)")
    data = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    keys = data.setdefault("keys", {})
    if name in keys:
        raise InputError(f"a key named {name!r} exists in {path}; remove it first")
    token = "rb_" + secrets.token_urlsafe(32)
    keys[name] = {"sha256": token_hash(token), "collections": sorted(set(collections)), "write": write}
    _write(path, data)
    return token


def remove_key(path: Path, name: str) -> None:
    import tomllib

    data = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    if name not in data.get("keys", {}):
        raise InputError(f"no key named {name!r} in {path}")
    del data["keys"][name]
    _write(path, data)


def _write(path: Path, data: dict) -> None:
    """Atomically, readable by the owner only (the hashes do not open anything, but say who may)."""
    import tomli_w

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(tomli_w.dumps(data), encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
