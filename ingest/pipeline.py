"""Incremental ingestion: files -> Documents -> Chunks -> embeddings -> Chroma.

The index itself is the record of what was ingested: every chunk carries its file's content
hash, the chunker fingerprint, the embedder id and the file's chunk count. A file is done
when all its chunks agree with the file on disk. This keeps no second store to drift out
of sync (and works the same against a Chroma server), makes an interrupted run resumable
(a half-written file simply does not look done), and lets unchanged files be skipped
before they are parsed, which LangChain's ``index()`` cannot do (it hashes parsed chunks).
"""
from __future__ import annotations

import errno
import hashlib
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from rag.retrieval import chroma as store
from rag.errors import InputError, LoadError
from rag.settings import Settings

from .chunking import ChunkerConfig, split_document
from .loaders import load_bytes, read_bytes, supported
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
    seconds: float = 0.0
    skipped: list[Skipped] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "files_seen": self.files_seen,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "chunks_total": self.chunks_total,
            "chunks_written": self.chunks_written,
            "seconds": round(self.seconds, 3),
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
        }


@dataclass
class _FileState:
    hashes: set = field(default_factory=set)
    chunkers: set = field(default_factory=set)
    embedders: set = field(default_factory=set)
    expected: set = field(default_factory=set)
    ids: list = field(default_factory=list)

    def complete(self, file_hash: str, chunker: str, embedder: str) -> bool:
        return (
            self.hashes == {file_hash}
            and self.chunkers == {chunker}
            and self.embedders == {embedder}
            and self.expected == {len(self.ids)}
        )


@dataclass
class _Pending:
    root: str
    source: str
    file_hash: str
    chunks: list[Chunk]
    meta: dict
    is_new: bool


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


def _index_state(collection) -> dict[tuple[str, str], _FileState]:
    state: dict[tuple[str, str], _FileState] = defaultdict(_FileState)
    for ids, metas in store.iter_metadata(collection):
        for cid, m in zip(ids, metas):
            m = m or {}
            s = state[(m.get("root", ""), m.get("source", ""))]
            s.hashes.add(m.get("file_hash"))
            s.chunkers.add(m.get("chunker"))
            s.embedders.add(m.get("embedder"))
            s.expected.add(m.get("file_chunks"))
            s.ids.append(cid)
    return state


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
) -> IngestSummary:
    """Bring the index in line with ``paths``: add new files, replace changed ones, delete removed ones."""
    from rag.embeddings import SentenceEmbeddings

    t0 = time.perf_counter()
    flush_chunks = flush_chunks or settings.ingest_flush_chunks
    targets = discover(paths)
    embeddings = embeddings or SentenceEmbeddings(
        settings.embedding_model, settings.embedding_backend, settings.embed_batch_size
    )
    config = ChunkerConfig(settings.chunk_size, settings.chunk_overlap)
    collection = store.open_collection(settings, create=True, embedder_id=embeddings.id)
    state = _index_state(collection)
    summary = IngestSummary()
    pending: list[_Pending] = []
    n_pending = 0
    total_files = sum(len(files) for _, files, _ in targets)

    def skip(path: Path, reason: str) -> None:
        item = Skipped(str(path), reason)
        summary.skipped.append(item)
        if on_skip:
            on_skip(item)

    def flush() -> None:
        nonlocal pending, n_pending
        if not pending:
            return
        chunks = [c for p in pending for c in p.chunks]
        vectors = embeddings.encode([c.embedding_text() for c in chunks])
        ids, docs, metas = [], [], []
        for p in pending:
            for i, c in enumerate(p.chunks):
                ids.append(c.id)
                docs.append(c.text)
                metas.append(
                    {
                        **p.meta,
                        "source": c.source,
                        "root": p.root,
                        "section": c.section,
                        "start": c.start,
                        "end": c.end,
                        "chunk_index": i,
                        "file_hash": p.file_hash,
                        "file_chunks": len(p.chunks),
                        "chunker": config.fingerprint,
                        "embedder": embeddings.id,
                    }
                )
        store.upsert(collection, ids, vectors, docs, metas)
        summary.chunks_written += len(ids)
        if on_write:
            on_write(summary.chunks_written)
        # Only now, with the new chunks safely written, drop the file's old ones.
        for p in pending:
            old = state.get((p.root, p.source))
            if old is not None:
                keep = {c.id for c in p.chunks}
                stale = [i for i in old.ids if i not in keep]
                store.delete(collection, stale)
            if p.is_new:
                summary.added += 1
            else:
                summary.updated += 1
        pending, n_pending = [], 0

    bar = _progress_bar(total_files, progress)
    done = 0
    try:
        for root, files, is_folder in targets:
            root_key = str(root)
            seen: set[str] = set()
            for path in files:
                done += 1
                source = path.relative_to(root).as_posix()
                seen.add(source)
                if on_file:
                    on_file(done, total_files, source)
                if bar is not None:
                    bar.update(1)
                if not supported(path):
                    skip(path, f"unsupported file type {path.suffix or '(none)'}")
                    continue
                summary.files_seen += 1
                try:
                    data = read_bytes(path)
                    file_hash = _file_hash(data)
                    old = state.get((root_key, source))
                    if old is not None and old.complete(file_hash, config.fingerprint, embeddings.id):
                        summary.unchanged += 1
                        continue
                    doc = load_bytes(data, source, path.suffix)
                except LoadError as exc:
                    skip(path, str(exc))
                    continue
                chunks = split_document(doc, config)
                if not chunks:
                    skip(path, "no text in file")
                    continue
                meta = {"format": doc.meta.get("format", ""), "title": str(doc.meta.get("title", ""))[:200]}
                pending.append(_Pending(root_key, source, file_hash, chunks, meta, is_new=old is None))
                n_pending += len(chunks)
                if n_pending >= flush_chunks:
                    flush()
            if is_folder:
                flush()
                for (r, source), old in list(state.items()):
                    if r == root_key and source not in seen:
                        store.delete(collection, old.ids)
                        summary.removed += 1
        flush()
    finally:
        if bar is not None:
            bar.close()
    summary.chunks_total = collection.count()
    summary.seconds = time.perf_counter() - t0
    return summary


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="file", desc="ingest", file=sys.stderr, leave=False)
