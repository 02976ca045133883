"""The layout of a Chroma record: a chunk's metadata keys, and the Passage read back from a record.

One module owns the keys, so ingestion writes and retrieval reads the same layout.
"""
from __future__ import annotations

from typing import Any, Mapping

from .types import Passage

SOURCE, SECTION, START, END, ROOT, INDEX = "source", "section", "start", "end", "root", "chunk_index"


def chunk_metadata(chunk: Any, **extra: Any) -> dict:
    """The metadata stored with a chunk (an ``ingest.types.Chunk`` or alike), plus ``extra`` keys."""
    return {SOURCE: chunk.source, SECTION: chunk.section, START: chunk.start, END: chunk.end, **extra}


def source_of(meta: Mapping | None) -> str:
    return str((meta or {}).get(SOURCE, ""))


def section_key(meta: Mapping | None) -> tuple[str, str]:
    """(source, section heading) of a record."""
    meta = meta or {}
    return str(meta.get(SOURCE, "")), str(meta.get(SECTION, ""))


def start_of(meta: Mapping | None) -> int:
    return int((meta or {}).get(START, 0))


def index_text(text: str, meta: Mapping) -> str:
    """The text the lexical index sees: the section heading gives a passage its topic."""
    section = meta.get(SECTION) or ""
    return f"{section}\n{text}" if section else text


def to_passage(chunk_id: str, text: str, meta: Mapping | None, score: float = 0.0) -> Passage:
    """The Passage a record stands for."""
    meta = meta or {}
    start = int(meta.get(START, 0))
    return Passage(
        chunk_id=chunk_id,
        source=str(meta.get(SOURCE, "")),
        section=str(meta.get(SECTION, "")),
        text=text,
        start=start,
        end=int(meta.get(END, start + len(text))),
        score=score,
    )
