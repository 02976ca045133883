"""Split documents into chunks that follow headings, then sentences, bounded by size with overlap."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from functools import cached_property

from rag.origin import Origin, shift_origin, source_span
from rag.text import BULLET

from .structure import Block, is_laid_out, read_blocks
from .types import Chunk, Document

_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class ChunkerConfig:
    """Chunker settings; their fingerprint is part of every chunk id."""

    chunk_size: int = 800
    chunk_overlap: int = 80
    version: int = 4  # bump when the splitting logic changes (2: laid-out text read by ingest/structure.py; 3: subsection lines; 4: justified lines that run on)

    def __post_init__(self) -> None:
        if self.chunk_size < 50:
            raise ValueError(f"chunk_size must be at least 50, got {self.chunk_size}")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise ValueError(
                f"chunk_overlap must be >= 0 and < chunk_size ({self.chunk_size}), got {self.chunk_overlap}"
            )

    @cached_property
    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


def _is_plain_title(line: str, next_line: str | None) -> bool:
    """A short title line of a plain-text essay: capitalised, no closing punctuation, a paragraph after it."""
    s = line.strip()
    if not s or len(s) > 90 or len(s.split()) > 12:
        return False
    if s[-1] in ".!?:;,\"'”’)" or BULLET.match(s) or not (s[0].isupper() or s[0].isdigit()):
        return False
    return next_line is not None and bool(next_line.strip())


def find_sections(text: str) -> list[tuple[str, int, int]]:
    """Return ``(heading, start, end)`` spans that tile ``text``; heading lines are part of their section."""
    lines = text.splitlines(keepends=True)
    markdown = any(_MD_HEADING.match(line) for line in lines)
    starts: list[tuple[int, str]] = []
    pos = 0
    for i, line in enumerate(lines):
        heading = None
        m = _MD_HEADING.match(line)
        if m:
            heading = m.group(2).strip()
        elif not markdown:
            nxt = next((ln for ln in lines[i + 1 :] if ln.strip()), None)
            if _is_plain_title(line, nxt) and (nxt is not None and len(nxt.strip()) > len(line.strip())):
                heading = line.strip()
        if heading is not None:
            starts.append((pos, heading))
        pos += len(line)
    if not starts or starts[0][0] != 0:
        starts.insert(0, (0, ""))
    spans = []
    for j, (start, heading) in enumerate(starts):
        end = starts[j + 1][0] if j + 1 < len(starts) else len(text)
        if end > start:
            spans.append((heading, start, end))
    return spans


def _splitter(config: ChunkerConfig):
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    # Paragraphs, then lines, then sentence ends, then clauses and words: the library's
    # recursive merge keeps pieces whole where it can and bounds each chunk by size.
    return RecursiveCharacterTextSplitter(
        chunk_size=config.chunk_size,
        chunk_overlap=config.chunk_overlap,
        separators=[r"\n\s*\n", r"\n", r"(?<=[.!?…])\s+", r"(?<=[;:])\s+", r"(?<=,)\s+", r"\s+", ""],
        is_separator_regex=True,
        keep_separator=True,
        strip_whitespace=True,
    )


def chunk_id(source: str, start: int, text: str, config: ChunkerConfig) -> str:
    """Content-derived id: the same text at the same place with the same settings gets the same id."""
    h = hashlib.sha256()
    for part in (source, str(start), config.fingerprint, text):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()[:32]


def scoped_id(root: str, chunk_id: str) -> str:
    """A chunk's id in the index: its content-derived id scoped to the folder it was ingested from,
    so that the same file ingested from two folders is two files, not one set of shared chunks."""
    return hashlib.sha256(f"{root}\x1f{chunk_id}".encode("utf-8", "surrogatepass")).hexdigest()[:32]


def place_pieces(text: str, pieces: list[str], overlap: int) -> list[int]:
    """Where each splitter piece sits in ``text``.

    The splitter returns strings, not offsets, and in repetitive text a piece occurs in several
    places. The true placement is the one where pieces come in order, each overlaps the one before
    by at most ``overlap`` characters, and only whitespace is left between or around them. Found by
    a forward pass over the few candidate places of each piece, then a walk back.

    Written here because langchain-text-splitters, whose pieces these are, returns strings only.
    semchunk (``offsets=True``) and semantic-text-splitter (``chunk_indices``) do report offsets,
    but neither is installed, and either would cut the text in other places: other chunk ids, a
    full re-index of every corpus, and other retrieval figures, for a placement this does exactly.
    """
    if not pieces:
        return []

    def gap_ok(a: int, b: int) -> bool:
        return a >= b or not text[a:b].strip()

    layers: list[dict[int, int | None]] = []  # start -> start of the previous piece
    prev: dict[int, int | None] = {}
    first = pieces[0]
    i = text.find(first)
    while i >= 0 and gap_ok(0, i):
        prev[i] = None
        i = text.find(first, i + 1)
    layers.append(prev)
    for k in range(1, len(pieces)):
        piece, before = pieces[k], pieces[k - 1]
        cur: dict[int, int | None] = {}
        for p_start in layers[-1]:
            p_end = p_start + len(before)
            lo = max(p_start + 1, p_end - overlap)
            i = text.find(piece, lo)
            while i >= 0 and gap_ok(p_end, i):
                cur.setdefault(i, p_start)
                i = text.find(piece, i + 1)
        if not cur:
            break
        layers.append(cur)
    if len(layers) == len(pieces):
        ends = [s for s in layers[-1] if gap_ok(s + len(pieces[-1]), len(text))]
        start = min(ends) if ends else min(layers[-1])
        out = [start]
        for k in range(len(pieces) - 1, 0, -1):
            start = layers[k][start]
            out.append(start)
        return out[::-1]
    # No consistent placement (cannot happen for the splitter's own output): place greedily.
    out, cursor = [], 0
    for piece in pieces:
        i = text.find(piece, cursor)
        i = text.find(piece) if i < 0 else i
        out.append(max(i, 0))
        cursor = max(i + 1, i + len(piece) - overlap)
    return out


def split_document(doc: Document, config: ChunkerConfig = ChunkerConfig()) -> list[Chunk]:
    """Split one document; every chunk satisfies ``doc.text[c.start:c.end] == c.text``, or, for a
    laid-out text (hard-wrapped, indented, with page furniture: ``is_laid_out``), is that span read
    reflowed, with its ``origin``."""
    if is_laid_out(doc.text):
        return split_laid_out(doc, config)
    splitter = _splitter(config)
    chunks: list[Chunk] = []
    for heading, sec_start, sec_end in find_sections(doc.text):
        body = doc.text[sec_start:sec_end]
        if not body.strip():
            continue
        pieces = [p for p in splitter.split_text(body) if p.strip()]
        for piece, offset in zip(pieces, place_pieces(body, pieces, config.chunk_overlap)):
            start = sec_start + offset
            chunks.append(
                Chunk(
                    id=chunk_id(doc.source, start, piece, config),
                    text=piece,
                    source=doc.source,
                    section=heading,
                    start=start,
                    end=start + len(piece),
                )
            )
    return chunks


def split_laid_out(doc: Document, config: ChunkerConfig = ChunkerConfig()) -> list[Chunk]:
    """Chunks of a laid-out text, from its blocks as read (ingest/structure.py): a definition-list
    entry is a chunk of its own, named by its term in its section (a longer one is split, its
    term kept in every piece's section); paragraphs and code of one section are packed up to the
    chunk size; headings name sections and are not content; page furniture is not read at all."""
    chunks: list[Chunk] = []
    group: list[Block] = []
    blocks = read_blocks(doc.text)
    context = document_context(blocks)

    def emit(text: str, origin: Origin, section: str) -> None:
        start, end = source_span(origin, 0, len(text))
        chunks.append(Chunk(chunk_id(doc.source, start, text, config), text, doc.source, section, start, end, origin,
                            context))

    def flush() -> None:
        if group:
            text, origin = join_blocks(group)
            emit(text, origin, group[0].section)
            group.clear()

    splitter = _splitter(config)
    for block in blocks:
        if block.kind == "heading":
            flush()
            continue
        if block.kind == "entry" or len(block.text) > config.chunk_size:
            flush()
            pieces = [p for p in splitter.split_text(block.text) if p.strip()] if len(block.text) > config.chunk_size \
                else [block.text]
            for piece, at in zip(pieces, place_pieces(block.text, pieces, config.chunk_overlap)):
                emit(piece, shift_origin(block.origin, at, at + len(piece)), block.section)
            continue
        if group and (block.section != group[0].section
                      or sum(len(b.text) + 1 for b in group) + len(block.text) > config.chunk_size):
            flush()
        group.append(block)
    flush()
    return chunks


def document_context(blocks: list[Block]) -> str:
    """What a laid-out document is about, for every chunk's embedding and lexical text: a manual
    page's NAME line ("cut - remove sections from each line of files"), else its first heading or
    first line; at most 120 characters. Without it an option's entry ("-r  remove directories ...")
    does not say which of many tools it belongs to."""
    named = next((i for i, b in enumerate(blocks) if b.kind == "heading" and b.text.strip().upper() == "NAME"), None)
    if named is not None and named + 1 < len(blocks) and blocks[named + 1].kind != "heading":
        text = blocks[named + 1].text
    else:
        text = next((b.text for b in blocks if b.kind == "heading"), blocks[0].text if blocks else "")
    text = " ".join(text.lstrip("#").split())
    return text if len(text) <= 120 else text[:120].rsplit(" ", 1)[0]


def join_blocks(blocks: list[Block]) -> tuple[str, Origin]:
    """Blocks as one text, a line each, with the origin of every run."""
    parts, origin, at = [], [], 0
    for block in blocks:
        origin += [(t + at, s) for t, s in block.origin]
        parts.append(block.text)
        at += len(block.text) + 1
    return "\n".join(parts), tuple(origin)


def split_documents(docs: list[Document], config: ChunkerConfig = ChunkerConfig()) -> list[Chunk]:
    """Split many documents, in order."""
    return [c for d in docs for c in split_document(d, config)]
