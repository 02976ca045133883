"""Inspect and prune the index by source file: what is indexed, and removing one file."""
from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

from rag.retrieval import chroma as store
from rag.retrieval.lexical import LexicalIndex, LexicalWriter, file_key
from rag.retrieval.sync import lexical_dir
from rag.errors import IndexMissingError, InputError
from rag.settings import Settings


def last_changed(settings: Settings) -> float | None:
    """When an ingestion last wrote this index (seconds since the epoch), or None if never."""
    lexical = LexicalIndex.open(lexical_dir(settings))
    return lexical.changed_at() if lexical is not None else None


def list_sources(settings: Settings) -> list[tuple[str, int]]:
    """Indexed source files with their chunk counts, sorted by name; empty when there is no index.

    Read from the lexical index's manifest (one small record a file) when it accounts for every
    chunk in Chroma; otherwise (an index made before it, or one an interrupted run left behind)
    from Chroma's metadata, every chunk's."""
    try:
        collection = store.open_collection(settings, create=False)
    except IndexMissingError:
        return []
    lexical = LexicalIndex.open(lexical_dir(settings))
    if lexical is not None:
        sources = lexical.sources()
        with store.one_line_errors(settings):
            if sum(sources.values()) == collection.count():
                return sorted(sources.items())
    counts: Counter[str] = Counter()
    with store.one_line_errors(settings):  # a server gone away, a busy file
        for _, metas in store.iter_metadata(collection):
            for meta in metas:
                counts[str((meta or {}).get("source", ""))] += 1
    return sorted(counts.items())


def corpus_path(settings: Settings, source: str) -> Path | None:
    """The file for ``source`` inside the corpus folder, or None when it would lie outside it."""
    root = Path(settings.corpus_dir).resolve()
    candidate = (root / source).resolve()
    if candidate == root or root not in candidate.parents:
        return None
    return candidate


def remove_source(settings: Settings, source: str) -> dict:
    """Delete the chunks of ``source`` and its file inside the corpus folder.

    Returns ``{"source", "chunks_removed", "file_deleted"}``. A source outside the corpus folder
    (ingested from elsewhere) loses its chunks; its file is never touched.
    """
    if not source or not source.strip():
        raise InputError("choose a file to remove")
    collection = store.open_collection(settings, create=False)
    rows = [
        (cid, str((meta or {}).get("root", "")))
        for page_ids, metas in store.iter_metadata(collection)
        for cid, meta in zip(page_ids, metas)
        if str((meta or {}).get("source", "")) == source
    ]
    ids = [cid for cid, _ in rows]
    path = corpus_path(settings, source)
    file_exists = path is not None and path.is_file()
    if not ids and not file_exists:
        raise InputError(f"{source!r} is not in the index")
    with store.writing(settings):
        _remove_lexical(settings, {file_key(root, source) for _, root in rows})
        store.delete(collection, ids)
    deleted = False
    if file_exists:
        # Delete the corpus copy too, or the next ingestion of the corpus folder would add it back.
        path.unlink()
        deleted = True
    return {"source": source, "chunks_removed": len(ids), "file_deleted": deleted}


def _remove_lexical(settings: Settings, keys: set[str]) -> None:
    """Drop the files from the lexical index (before Chroma, so its manifest never names missing chunks)."""
    index = LexicalIndex.open(lexical_dir(settings))
    if index is not None and keys:
        with LexicalWriter(index) as writer:
            writer.remove(sorted(keys))


def list_collections(settings: Settings) -> list[tuple[str, int]]:
    """Every collection of the index (embedded folder or server) with its chunk count, by name."""
    client = store.open_client(settings)
    with store.one_line_errors(settings):
        return sorted((c.name, c.count()) for c in client.list_collections())


def delete_collection(settings: Settings, name: str) -> int:
    """Delete one collection: its chunks and its lexical index; the others are untouched. Returns
    how many chunks it held. The lexical index goes first, so it never outlives its chunks (a
    collection left without one gets it rebuilt on first use)."""
    target = settings.replace(collection=name)
    collection = store.open_collection(target)  # IndexMissingError names the missing collection
    count = collection.count()
    shutil.rmtree(lexical_dir(target), ignore_errors=True)
    with store.one_line_errors(target):
        store.open_client(target).delete_collection(name)
    return count
