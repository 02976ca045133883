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
    context: str = ""  # what the document is about, when a laid-out one says (its manual page's NAME line)

    def embedding_text(self) -> str:
        """The text the encoder sees: the section heading gives a passage its topic, the context
        which tool or document it is about (rag.records.index_text, the same for the lexical index)."""
        return "\n".join(part for part in (self.context, self.section, self.text) if part)


@dataclass(frozen=True)
class Skipped:
    """A file that could not be read, and why."""

    path: str
    reason: str
