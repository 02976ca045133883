"""Every error ragbot shows a user. The CLI prints ``str(err)`` as one line; the UI shows it."""
from __future__ import annotations


class RagbotError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""


class ConfigError(RagbotError):
    """A setting has a bad value (unknown mode, k out of range, ...)."""


class InputError(RagbotError):
    """A question or path the user gave cannot be used."""


class NotFoundError(InputError):
    """A collection or document that is not there, or that the caller may not see (the same answer)."""


class AccessError(RagbotError):
    """The caller may see this but not do that (a read-only key asked to upload or delete)."""


class LoadError(RagbotError):
    """A file is corrupt, encrypted, binary, unreadable or of an unsupported type."""


class IndexMissingError(RagbotError):
    """There is no index yet (or it is empty) where ragbot was told to look."""


class BackendError(RagbotError):
    """A backend (Chroma server, LLM server, model file) is unreachable or failed."""


def unknown_name(kind: str, name: str, known: list[str] | tuple[str, ...]) -> ConfigError:
    """An error for a name missing from a registry, listing the names that exist."""
    return ConfigError(f"unknown {kind} {name!r}; known: {', '.join(sorted(known))}")
