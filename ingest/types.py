"""Frozen records that cross the ingestion boundary."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Document:
    """The text of one source file, with where it came from."""

    text: str
    source: str  # path relative to the ingested root, POSIX separators
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """A slice of a document: ``document.text[start:end] == text``, or, for a laid-out text read
    reflowed (ingest/structure.py), ``text`` is that span as read and ``origin`` maps each of its
    runs back to the document (rag/origin.py)."""

    id: str
    text: str
    source: str
    section: str
    start: int
    end: int
    origin: tuple[tuple[int, int], ...] = ()

    def embedding_text(self) -> str:
        """The text the encoder sees: the section heading gives a passage its topic."""
        return f"{self.section}\n{self.text}" if self.section else self.text


@dataclass(frozen=True)
class Skipped:
    """A file that could not be read, and why."""

    path: str
    reason: str
