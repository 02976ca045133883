"""Inspect and prune the index by source file: what is indexed, and removing one file."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from rag.retrieval import chroma as store
from rag.retrieval.lexical import LexicalIndex
from rag.retrieval.sync import lexical_dir
from rag.errors import IndexMissingError, InputError
from rag.settings import Settings

from .index_writer import IndexWriter, drop_collection
from .manifest import FILENAME as MANIFEST_FILE
from .manifest import Manifest, ManifestDamaged


def last_changed(settings: Settings) -> float | None:
    """When an ingestion last wrote this index (seconds since the epoch), or None if never."""
    lexical = LexicalIndex.open(lexical_dir(settings))
    return lexical.changed_at() if lexical is not None else None


def list_sources(settings: Settings) -> list[tuple[str, int]]:
    """Indexed source files with their chunk counts, sorted by name; empty when there is no index.

    Read from the manifest (one small row a file) when it accounts for every chunk in Chroma;
    otherwise (an index made before it, or one an interrupted run left behind) from Chroma's
    metadata, every chunk's, without writing anything (the next ingestion repairs the manifest)."""
    try:
        collection = store.open_collection(settings, create=False)
    except IndexMissingError:
        return []
    sources = _manifest_sources(settings)
    with store.one_line_errors(settings):
        if sources is not None and sum(sources.values()) == collection.count():
            return sorted(sources.items())
    counts: Counter[str] = Counter()
    with store.one_line_errors(settings):  # a server gone away, a busy file
        for _, metas in store.iter_metadata(collection):
            for meta in metas:
                counts[str((meta or {}).get("source", ""))] += 1
    return sorted(counts.items())


def _manifest_sources(settings: Settings) -> dict[str, int] | None:
    folder = lexical_dir(settings)
    if not (folder / MANIFEST_FILE).exists():
        return None
    try:
        manifest = Manifest.open(folder, settings.collection)
    except ManifestDamaged:
        return None
    try:
        return manifest.sources() if manifest.is_built() and not manifest.unfinished() else None
    finally:
        manifest.close()


def corpus_path(settings: Settings, source: str) -> Path | None:
    """The file for ``source`` inside the corpus folder, or None when it would lie outside it."""
    root = Path(settings.corpus_dir).resolve()
    candidate = (root / source).resolve()
    if candidate == root or root not in candidate.parents:
        return None
    return candidate


def remove_source(settings: Settings, source: str) -> dict:
    """Delete the chunks of ``source`` (by the ids its manifest entry names) and its file inside
    the corpus folder.

    Returns ``{"source", "chunks_removed", "file_deleted"}``. A source outside the corpus folder
    (ingested from elsewhere) loses its chunks; its file is never touched.
    """
    if not source or not source.strip():
        raise InputError("choose a file to remove")
    store.open_collection(settings, create=False)  # IndexMissingError: nothing was ever ingested
    with IndexWriter.open(settings, create=False) as writer:
        removed = writer.remove_source(source)
    path = corpus_path(settings, source)
    file_exists = path is not None and path.is_file()
    if not removed and not file_exists:
        raise InputError(f"{source!r} is not in the index")
    deleted = False
    if file_exists:
        # Delete the corpus copy too, or the next ingestion of the corpus folder would add it back.
        path.unlink()
        deleted = True
    return {"source": source, "chunks_removed": removed, "file_deleted": deleted}


def list_collections(settings: Settings) -> list[tuple[str, int]]:
    """Every collection of the index (embedded folder or server) with its chunk count, by name."""
    client = store.open_client(settings)
    with store.one_line_errors(settings):
        return sorted((c.name, c.count()) for c in client.list_collections())


def delete_collection(settings: Settings, name: str) -> int:
    """Delete one collection (its chunks, lexical index and manifest); returns how many chunks it held."""
    return drop_collection(settings, name)
