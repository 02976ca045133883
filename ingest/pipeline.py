"""Incremental ingestion: files -> Documents -> Chunks -> embeddings -> the index.

What the index holds is read from its manifest (ingest/manifest.py): per file its content hash,
chunker and embedder fingerprints and chunk ids. A file whose entry matches the file on disk is
skipped before it is parsed (which LangChain's ``index()`` cannot do: it hashes parsed chunks);
a changed file is replaced, a removed one deleted by its chunk ids. All writes go through the
``IndexWriter`` (ingest/index_writer.py), which keeps Chroma, the lexical index and the manifest in
step and repairs what an interrupted run left, so an interrupted run is simply run again. Files
that only another embedder made vectors for are not read again: after the files are visited, the
writer re-embeds every such file of the index from the texts it holds (once, with a progress bar).
"""
from __future__ import annotations

import errno
import hashlib
import os
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from rag import records
from rag.errors import InputError, LoadError
from rag.settings import Settings

from .chunking import ChunkerConfig, scoped_id, split_document
from .index_writer import FileWrite, IndexWriter, print_note
from .loaders import load_bytes, loader_version, read_bytes, supported
from .ocr import engine as ocr_engine
from .types import Chunk, Skipped


@dataclass
class IngestSummary:
    """What one ingestion run did; ``to_dict`` is the ``ragbot ingest --json`` shape."""

    files_seen: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks_total: int = 0
    chunks_written: int = 0
    chunks_reembedded: int = 0  # chunks given new vectors from their stored texts (a changed embedder)
    seconds: float = 0.0
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[Skipped] = field(default_factory=list)  # files ingested with a loss: pages OCR could not read

    def to_dict(self) -> dict:
        return {**asdict(self), "seconds": round(self.seconds, 3)}  # fields in order; skipped as {path, reason}


@dataclass
class _Pending:
    root: str
    source: str
    file_hash: str
    chunks: list[Chunk]
    meta: dict
    is_new: bool
    reading: str  # how the file was read: the chunker's fingerprint, and the loader's version if any
    page_starts: tuple[int, ...] = ()  # a paged document's page offsets
    ocr_pages: tuple[int, ...] = ()  # its pages read by OCR (1-based)
    page_labels: tuple[str, ...] = ()  # its pages' labels, when the PDF labels them otherwise than 1, 2, 3


def discover(paths: Iterable[str | Path]) -> list[tuple[Path, list[Path], bool]]:
    """``(root, files, is_folder)`` for each path; a folder is walked without following links."""
    targets = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            if path.is_symlink():
                try:
                    path.stat()
                except OSError as exc:
                    if exc.errno == errno.ELOOP:
                        raise InputError(f"{raw}: symbolic link loop") from None
                raise InputError(f"{raw}: broken symbolic link")
            raise InputError(f"{raw}: no such file or folder")
        path = path.resolve()
        if path.is_dir():
            if not os.access(path, os.R_OK | os.X_OK):
                raise InputError(f"{raw}: folder is not readable (permission denied)")
            files = []
            for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                files.extend(Path(dirpath) / f for f in sorted(filenames) if not f.startswith("."))
            targets.append((path, files, True))
        else:
            targets.append((path.parent, [path], False))
    return targets


def _unread_pages(meta: dict) -> list[str]:
    """"page 2, 5 not read: tesseract read no text": one line per reason a loader gave for pages it
    could not read."""
    by_reason: dict[str, list[int]] = defaultdict(list)
    for page, reason in meta.get("unread") or []:
        by_reason[reason].append(page)
    return [f"page {', '.join(map(str, pages))} not read: {reason}" for reason, pages in by_reason.items()]


def _file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ingest(
    paths: Iterable[str | Path],
    settings: Settings,
    *,
    embeddings=None,
    progress: bool = False,
    on_skip: Callable[[Skipped], None] | None = None,
    on_file: Callable[[int, int, str], None] | None = None,
    on_write: Callable[[int], None] | None = None,
    flush_chunks: int | None = None,
    on_note: Callable[[str], None] | None = print_note,
) -> IngestSummary:
    """Bring the index in line with ``paths``: add new files, replace changed ones, delete removed ones.
    ``on_note`` hears of repairs to the index (a rebuilt manifest, a half-written file cleaned up)."""
    from rag.embeddings import SentenceEmbeddings

    t0 = time.perf_counter()
    targets = discover(paths)
    embeddings = embeddings or SentenceEmbeddings.for_settings(settings)
    total_files = sum(len(files) for _, files, _ in targets)
    with IndexWriter.open(settings, embedder_id=embeddings.id, progress=progress, on_note=on_note) as writer:
        run = _Run(settings, embeddings, writer, flush_chunks or settings.ingest_flush_chunks, on_skip=on_skip, on_write=on_write)
        _visit_all(run, targets, total_files, on_file, _progress_bar(total_files, progress))
        run.summary.chunks_reembedded = writer.reembed(embeddings.encode, embeddings.id, progress=progress,
                                                       on_note=on_note, group_chunks=run.flush_chunks)
        run.summary.chunks_total = writer.count()
    run.summary.seconds = time.perf_counter() - t0
    return run.summary


def _visit_all(run: "_Run", targets, total_files: int, on_file, bar) -> None:
    done = 0
    try:
        for root, files, is_folder in targets:
            seen: set[str] = set()
            for path in files:
                done += 1
                source = path.relative_to(root).as_posix()
                seen.add(source)
                if on_file:
                    on_file(done, total_files, source)
                if bar is not None:
                    bar.update(1)
                run.visit(str(root), path, source)
            if is_folder:
                run.flush()
                run.remove_missing(str(root), seen)
        run.flush()
    finally:
        if bar is not None:
            bar.close()


class _Run:
    """One ingestion run: what the index holds, the chunks waiting to be written, and the summary."""

    def __init__(self, settings: Settings, embeddings, writer: IndexWriter, flush_chunks: int, *, on_skip=None, on_write=None):
        self.embeddings, self.writer = embeddings, writer
        self.flush_chunks = flush_chunks
        self.on_skip, self.on_write = on_skip, on_write
        self.config = ChunkerConfig(settings.chunk_size, settings.chunk_overlap)
        self.ocr = settings.ocr
        if self.ocr not in ("auto", "none"):
            ocr_engine(self.ocr)  # an engine asked for by name and not installed: say so before any file
        self.summary = IngestSummary()
        self.pending: list[_Pending] = []
        self.n_pending = 0

    def skip(self, path: Path, reason: str) -> None:
        item = Skipped(str(path), reason)
        self.summary.skipped.append(item)
        if self.on_skip:
            self.on_skip(item)

    def visit(self, root_key: str, path: Path, source: str) -> None:
        """Queue one file's chunks unless it is unsupported, unreadable, empty or already done."""
        if not supported(path):
            self.skip(path, f"unsupported file type {path.suffix or '(none)'}")
            return
        self.summary.files_seen += 1
        try:
            data = read_bytes(path)
            file_hash = _file_hash(data)
            reading = self.reading(path.suffix)
            old = self.writer.entry(root_key, source)
            # vectors of another embedder alone are redone from the stored texts (IndexWriter.reembed)
            if old is not None and old.matches(file_hash, reading, old.embedder):
                self.summary.unchanged += 1
                return
            doc = load_bytes(data, source, path.suffix, ocr=self.ocr)
        except LoadError as exc:
            self.skip(path, str(exc))
            return
        for reason in _unread_pages(doc.meta):
            self.summary.warnings.append(Skipped(str(path), reason))
        chunks = split_document(doc, self.config)
        if not chunks:
            self.skip(path, "no text in file")
            return
        if old is not None and old.matches(file_hash, old.chunker, old.embedder) \
                and old.ids == tuple(scoped_id(root_key, c.id) for c in chunks):
            self.writer.relabel(old, reading)  # a newer loader read the same chunks: nothing to embed
            self.summary.unchanged += 1
            return
        meta = {"format": doc.meta.get("format", ""), "title": str(doc.meta.get("title", ""))[:200]}
        self.pending.append(_Pending(root_key, source, file_hash, chunks, meta, is_new=old is None, reading=reading,
                                     page_starts=tuple(doc.meta.get("page_starts") or ()),
                                     ocr_pages=tuple(doc.meta.get("ocr_pages") or ()),
                                     page_labels=tuple(doc.meta.get("page_labels") or ())))
        self.n_pending += len(chunks)
        if self.n_pending >= self.flush_chunks:
            self.flush()

    def reading(self, suffix: str) -> str:
        """What the manifest records as the chunker of a file ending in ``suffix``: the chunker's
        fingerprint, with the loader's version when it has one, so that a file read by an older
        loader counts as changed."""
        version = loader_version(suffix)
        return f"{self.config.fingerprint}+{suffix.lower()}{version}" if version else self.config.fingerprint

    def flush(self) -> None:
        """Embed the queued chunks and write their files (the writer drops the replaced versions)."""
        if not self.pending:
            return
        chunks = [c for p in self.pending for c in p.chunks]
        vectors = self.embeddings.encode([c.embedding_text() for c in chunks])
        files, at = [], 0
        for p in self.pending:
            files.append(FileWrite(
                p.root, p.source, p.file_hash, p.reading, self.embeddings.id,
                tuple(scoped_id(p.root, c.id) for c in p.chunks), tuple(c.text for c in p.chunks),
                tuple(self._metadata(p, i, c) for i, c in enumerate(p.chunks)), vectors[at : at + len(p.chunks)]))
            at += len(p.chunks)
        self.writer.replace(files)
        self.summary.added += sum(p.is_new for p in self.pending)
        self.summary.updated += sum(not p.is_new for p in self.pending)
        self.summary.chunks_written += len(chunks)
        if self.on_write:
            self.on_write(self.summary.chunks_written)
        self.pending, self.n_pending = [], 0

    def _metadata(self, p: _Pending, i: int, chunk: Chunk) -> dict:
        return records.chunk_metadata(
            chunk,
            **p.meta,
            **records.page_metadata(p.page_starts, chunk.start, chunk.end, p.ocr_pages, p.page_labels),
            root=p.root,
            chunk_index=i,
            file_hash=p.file_hash,
            file_chunks=len(p.chunks),
            chunker=p.reading,
            embedder=self.embeddings.id,
        )

    def remove_missing(self, root_key: str, seen: set[str]) -> None:
        """Delete the files under ``root_key`` that are no longer there, by their chunk ids."""
        gone = [key for source, key in self.writer.sources_under(root_key).items() if source not in seen]
        self.writer.remove(gone)
        self.summary.removed += len(gone)


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="file", desc="ingest", file=sys.stderr, leave=False)
