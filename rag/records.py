"""The layout of a Chroma record: a chunk's metadata keys, and the Passage read back from a record.

One module owns the keys, so ingestion writes and retrieval reads the same layout.
"""
from __future__ import annotations

import bisect
from typing import Any, Mapping

from .origin import decode_origin, encode_origin
from .types import Passage

SOURCE, SECTION, START, END, ROOT, INDEX = "source", "section", "start", "end", "root", "chunk_index"
PAGE, PAGE_BREAKS = "page", "page_breaks"  # a paged document's page at the chunk's start; later pages' starts
OCR = "ocr"  # True on a chunk whose text (some of it) was read by OCR
CONTEXT = "context"  # what a laid-out document is about ("cut - remove sections from each line of files"), if it says
ORIGIN = "origin"  # a reflowed chunk's runs in its source text (rag/origin.py); absent when the text is the source's
# The page's label as the PDF numbers it ("iv", "12") at the chunk's start, and the labels of every
# page the chunk spans, tab-separated: set only for a document whose labels differ from its page numbers.
PAGE_LABEL, PAGE_LABELS = "page_label", "page_labels"


def page_metadata(page_starts: list[int] | tuple[int, ...], start: int, end: int,
                  ocr_pages: list[int] | tuple[int, ...] = (), page_labels: list[str] | tuple[str, ...] = ()) -> dict:
    """The page keys of a chunk spanning ``[start, end)`` of a document whose pages begin at
    ``page_starts`` (character offsets, first page first); none for a document without pages.
    ``ocr_pages`` are the document's pages read by OCR (1-based); ``page_labels`` the pages'
    labels, one a page, when the document labels its pages otherwise than 1, 2, 3."""
    if not page_starts:
        return {}
    page = bisect.bisect_right(page_starts, start)
    breaks = [str(o) for o in page_starts[page:] if o < end]
    meta = {PAGE: max(page, 1), PAGE_BREAKS: ",".join(breaks)}
    if set(range(max(page, 1), max(page, 1) + len(breaks) + 1)) & set(ocr_pages):
        meta[OCR] = True
    if len(page_labels) == len(page_starts):
        spanned = [" ".join(str(label).split()) for label in page_labels[max(page, 1) - 1 : max(page, 1) + len(breaks)]]
        meta[PAGE_LABEL], meta[PAGE_LABELS] = spanned[0], "\t".join(spanned)
    return meta


SLIDE_SUFFIXES = (".pptx",)  # paged by slide: their page is a slide number


def page_label(source: str, page: int | None, label: str | None = None) -> str:
    """"p. 7" for a page of a PDF or scan, "slide 7" for a slide of a deck, "" without a page; a
    page the PDF labels otherwise is named by its label, its physical page beside it: "p. iv
    (PDF page 4)", "p. 12 (PDF page 15)"."""
    if not page:
        return ""
    if source.lower().endswith(SLIDE_SUFFIXES):
        return f"slide {int(page)}"
    if label and label != str(int(page)):
        return f"p. {label} (PDF page {int(page)})"
    return f"p. {int(page)}"


def cited_page(citation: Any, passages: Any = ()) -> str:
    """A citation's page as shown ("p. 12 (PDF page 15)", "" without a page); its label from the
    citation, or else from the retrieved passage it quotes."""
    label = getattr(citation, "page_label", None)
    if label is None:
        label = next((p.page_label_at(citation.start) for p in passages if p.chunk_id == citation.chunk_id), None)
    return page_label(citation.source, citation.page, label)


def chunk_metadata(chunk: Any, **extra: Any) -> dict:
    """The metadata stored with a chunk (an ``ingest.types.Chunk`` or alike), plus ``extra`` keys."""
    meta = {SOURCE: chunk.source, SECTION: chunk.section, START: chunk.start, END: chunk.end, **extra}
    if getattr(chunk, "origin", ()):
        meta[ORIGIN] = encode_origin(chunk.origin)
    if getattr(chunk, "context", ""):
        meta[CONTEXT] = chunk.context
    return meta


def source_of(meta: Mapping | None) -> str:
    return str((meta or {}).get(SOURCE, ""))


def section_key(meta: Mapping | None) -> tuple[str, str]:
    """(source, section heading) of a record."""
    meta = meta or {}
    return str(meta.get(SOURCE, "")), str(meta.get(SECTION, ""))


def start_of(meta: Mapping | None) -> int:
    return int((meta or {}).get(START, 0))


def index_text(text: str, meta: Mapping) -> str:
    """The text the lexical index and the encoder see: the section heading gives a passage its topic,
    and a laid-out document's context (its manual page's NAME line) says which tool it is about."""
    return "\n".join(part for part in (meta.get(CONTEXT) or "", meta.get(SECTION) or "", text) if part)


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
        page=int(meta[PAGE]) if meta.get(PAGE) else None,
        page_breaks=tuple(int(o) for o in str(meta.get(PAGE_BREAKS) or "").split(",") if o),
        origin=decode_origin(meta.get(ORIGIN)),
        page_labels=tuple(str(meta[PAGE_LABELS]).split("\t")) if meta.get(PAGE_LABELS) else (),
    )
