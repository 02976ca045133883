"""Keep the lexical index in step with Chroma: where it lives, and the repair after an interrupted run.

Chroma is the record of what was ingested (every chunk carries its file's hash and chunk count);
the lexical index's manifest says which file versions it holds. ``reconcile`` brings the second in
line with the first, reading the texts of the files it must redo from Chroma (nothing is encoded).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from .. import records
from ..settings import Settings
from . import chroma as store
from .lexical import FileChunks, LexicalIndex, LexicalWriter, file_key, stale_files


def lexical_dir(settings: Settings) -> Path:
    """Beside the Chroma data: inside the embedded index's folder; for a server, under the local
    ``persist_dir`` (processes of one machine that share a server share this folder)."""
    if settings.server_mode:
        name = f"{settings.chroma_host}_{settings.chroma_port}_{settings.collection}"
        return settings.cache_dir / "lexical" / name
    return Path(settings.persist_dir) / "lexical" / settings.collection


@dataclass(frozen=True)
class IndexedFile:
    """One file as Chroma's chunks record it (every chunk carries its file's version)."""

    root: str
    source: str
    file_hash: str
    chunker: str
    embedder: str
    ids: tuple[str, ...]

    @property
    def key(self) -> str:
        return file_key(self.root, self.source)


def scan_files(collection, on_page: Callable[[int], None] | None = None) -> dict[str, IndexedFile]:
    """Read every chunk's metadata once: every file the chunks name, by file key. A file whose
    chunks agree (one version, all there) has its hash; any other (what an interrupted write of an
    old ragbot left, or chunks written without it) has the hash "", which no file on disk matches.
    ``on_page`` gets the number of chunks of each page read."""
    seen: dict[str, list] = {}
    for ids, metas in store.iter_metadata(collection):
        for cid, meta in zip(ids, metas):
            meta = meta or {}
            root, source = str(meta.get(records.ROOT, "")), records.source_of(meta)
            entry = seen.setdefault(file_key(root, source), [root, source, set(), set(), []])
            entry[2].add((meta.get("file_hash"), meta.get("chunker"), meta.get("embedder")))
            entry[3].add(meta.get("file_chunks"))
            entry[4].append(cid)
        if on_page:
            on_page(len(ids))
    files = {}
    for key, (root, source, versions, counts, ids) in seen.items():
        whole = len(versions) == 1 and counts == {len(ids)}
        file_hash, chunker, embedder = next(iter(versions)) if whole else ("", "", "")
        files[key] = IndexedFile(root, source, str(file_hash or ""), str(chunker or ""), str(embedder or ""), tuple(ids))
    return files


def chroma_files(collection) -> dict[str, tuple[str, list[str]]]:
    """Every file whose chunks in Chroma agree with each other: file key -> (hash, chunk ids)."""
    return {key: (f.file_hash, list(f.ids)) for key, f in scan_files(collection).items() if f.file_hash}


def file_chunks(collection, key: str, file_hash: str, ids: Sequence[str]) -> FileChunks:
    """One file's chunks as the lexical index holds them, read back from Chroma."""
    root, source = json.loads(key)
    got = collection.get(ids=list(ids), include=["documents", "metadatas"])
    rows = sorted(zip(got["ids"], got["documents"], got["metadatas"]), key=lambda r: records.start_of(r[2]))
    return FileChunks(
        root, source, file_hash,
        tuple(r[0] for r in rows),
        tuple(records.index_text(r[1] or "", r[2] or {}) for r in rows),
        tuple(records.section_key(r[2])[1] for r in rows),
    )


def reconcile(writer: LexicalWriter, collection, in_chroma: Mapping[str, tuple[str, Sequence[str]]], batch: int = 200) -> int:
    """Redo the files the lexical index lacks or holds in another version, drop those Chroma lacks;
    returns how many files were redone or dropped."""
    manifest = writer.index.manifest()
    rebuild, remove = stale_files(manifest, {k: (h, len(ids)) for k, (h, ids) in in_chroma.items()})
    writer.remove(remove)
    for i in range(0, len(rebuild), batch):
        writer.replace(file_chunks(collection, key, *in_chroma[key]) for key in rebuild[i : i + batch])
    return len(rebuild) + len(remove)


def build_lexical(settings: Settings, collection) -> LexicalIndex:
    """Create the lexical index of an index that has none yet (made before it existed) from Chroma's texts."""
    index = LexicalIndex.open(lexical_dir(settings), create=True)
    with LexicalWriter(index) as writer:
        reconcile(writer, collection, chroma_files(collection))
    index.reload()
    return index
