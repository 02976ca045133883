"""The manifest: what an index holds, file by file, so that ingestion never reads every chunk to learn it.

One SQLite file beside the lexical index (``manifest.sqlite3`` in its folder). A row per file: its
key (root and source), content hash, chunker and embedder fingerprints, and chunk ids. A row is
``complete`` only once the file's chunks are in Chroma and in the lexical index; before a write
touches either index the row is marked ``writing`` with every id the write may leave behind (the
old version's and the new one's), so after a crash the next writer knows exactly what to clean up.
The ``IndexWriter`` (ingest/index_writer.py) is the only code that writes it.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from rag.retrieval.sync import IndexedFile

FILENAME = "manifest.sqlite3"
VERSION = "1"
COMPLETE, WRITING = "complete", "writing"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    key TEXT PRIMARY KEY, root TEXT NOT NULL, source TEXT NOT NULL, hash TEXT NOT NULL,
    chunker TEXT NOT NULL, embedder TEXT NOT NULL, ids TEXT NOT NULL, chunks INTEGER NOT NULL,
    state TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS files_root ON files (root);
CREATE INDEX IF NOT EXISTS files_source ON files (source);
CREATE INDEX IF NOT EXISTS files_state ON files (state);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class ManifestDamaged(Exception):
    """The manifest file cannot be read as one (then it is rebuilt from the indexes)."""


@dataclass(frozen=True)
class FileEntry(IndexedFile):
    """One file as the manifest records it: its version and chunk ids, and whether it is whole."""

    state: str = COMPLETE

    def matches(self, file_hash: str, chunker: str, embedder: str) -> bool:
        """This entry is a complete copy of that version of the file."""
        return self.state == COMPLETE and (self.file_hash, self.chunker, self.embedder) == (file_hash, chunker, embedder)


class Manifest:
    """The manifest of one collection; every change is one committed transaction."""

    def __init__(self, path: Path, db: sqlite3.Connection):
        self.path, self._db = path, db

    @classmethod
    def open(cls, folder: Path, collection: str) -> "Manifest":
        """The manifest in ``folder`` (created empty if absent); ``ManifestDamaged`` when the file is
        not a manifest of ``collection``."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / FILENAME
        try:
            db = sqlite3.connect(path, timeout=30)  # DML opens a transaction; `with db` commits it
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            meta = dict(db.execute("SELECT name, value FROM meta"))
        except sqlite3.DatabaseError as exc:
            raise ManifestDamaged(f"{path}: {exc}") from exc
        manifest = cls(path, db)
        if not meta:
            return manifest
        if meta.get("version") != VERSION or meta.get("collection") != collection:
            db.close()
            raise ManifestDamaged(f"{path}: made for {meta.get('collection')!r}, version {meta.get('version')!r}")
        return manifest

    def is_built(self) -> bool:
        """True once the manifest has been filled (from nothing, or rebuilt from the indexes)."""
        return self._db.execute("SELECT 1 FROM meta WHERE name = 'version'").fetchone() is not None

    def mark_built(self, collection: str) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (VERSION,))
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('collection', ?)", (collection,))

    def close(self) -> None:
        self._db.close()

    # --- reading ------------------------------------------------------------------------

    def get(self, key: str) -> FileEntry | None:
        row = self._db.execute("SELECT * FROM files WHERE key = ?", (key,)).fetchone()
        return _entry(row) if row else None

    def sources_under(self, root: str) -> dict[str, str]:
        """source -> key of every file recorded under ``root``."""
        return dict(self._db.execute("SELECT source, key FROM files WHERE root = ?", (root,)))

    def by_source(self, source: str) -> list[FileEntry]:
        return [_entry(r) for r in self._db.execute("SELECT * FROM files WHERE source = ?", (source,))]

    def unfinished(self) -> list[FileEntry]:
        """Writes a crash interrupted."""
        return [_entry(r) for r in self._db.execute("SELECT * FROM files WHERE state = ?", (WRITING,))]

    def embedded_otherwise(self, embedder: str) -> list[FileEntry]:
        """Complete files whose vectors another embedder made (they are re-embedded from their texts)."""
        rows = self._db.execute("SELECT * FROM files WHERE state = ? AND embedder != ? ORDER BY key", (COMPLETE, embedder))
        return [_entry(r) for r in rows]

    def chunk_count(self) -> int:
        """Chunks of the complete files (what both indexes hold when nothing is unfinished)."""
        return int(self._db.execute("SELECT COALESCE(SUM(chunks), 0) FROM files WHERE state = ?", (COMPLETE,)).fetchone()[0])

    def sources(self) -> dict[str, int]:
        """source -> chunk count of the complete files, by name."""
        rows = self._db.execute("SELECT source, SUM(chunks) FROM files WHERE state = ? GROUP BY source ORDER BY source",
                                (COMPLETE,))
        return {s: int(n) for s, n in rows}

    def entries(self) -> Iterator[FileEntry]:
        for row in self._db.execute("SELECT * FROM files"):
            yield _entry(row)

    # --- writing (the IndexWriter's) ------------------------------------------------------

    def begin(self, entries: Iterable[FileEntry]) -> None:
        """Mark these files as being written, each with every id the write may leave in an index."""
        self._put(entries, WRITING)

    def complete(self, entries: Iterable[FileEntry]) -> None:
        self._put(entries, COMPLETE)

    def forget(self, keys: Iterable[str]) -> None:
        with self._db:
            self._db.executemany("DELETE FROM files WHERE key = ?", [(k,) for k in keys])

    def clear(self) -> None:
        with self._db:
            self._db.execute("DELETE FROM files")
            self._db.execute("DELETE FROM meta")

    def _put(self, entries: Iterable[FileEntry], state: str) -> None:
        rows = [(e.key, e.root, e.source, e.file_hash, e.chunker, e.embedder, json.dumps(list(e.ids)), len(e.ids), state)
                for e in entries]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def _entry(row) -> FileEntry:
    _, root, source, file_hash, chunker, embedder, ids, _, state = row
    return FileEntry(root, source, file_hash, chunker, embedder, tuple(json.loads(ids)), state)
