"""The one writer of an index: Chroma, the lexical index and the manifest, kept in step.

Everything that changes an index goes through ``IndexWriter`` (ingestion, ``--watch``, the app's
uploads and removals, ``/v1/documents``) or ``drop_collection``. The order of every write is here
and nowhere else:

- replace files: the manifest marks them ``writing`` with their old and new chunk ids; Chroma gets
  the new chunks and loses the old ones; the lexical index replaces them; the manifest marks them
  ``complete`` with their new ids.
- remove files: the manifest marks them ``writing``; the lexical index and then Chroma drop their
  chunks by id; the manifest forgets them.

A process killed anywhere in between leaves rows marked ``writing``; the next writer deletes every
id such a row names from both indexes and forgets the row, and the file, no longer recorded, is
ingested again by the next run. So the manifest never claims a file that is not whole in both
indexes, and learning what the index holds costs one small SQLite read, not a read of every chunk.
A manifest that is missing (an index made before it), damaged or out of step with the indexes'
chunk counts is rebuilt from Chroma once, with a progress bar.

Files whose vectors another embedder of the same model made (the embedder fingerprint changed,
as when the int8 encoder stopped quantizing per batch) are re-embedded from the texts Chroma holds,
a group of files at a time: their chunks keep their ids and texts and get new vectors in place, and
only then does the manifest record the new embedder. A run killed in between leaves those files
recorded with the old embedder, so the next run re-embeds them again; nothing is deleted.
"""
from __future__ import annotations

import shutil
import sys
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Iterator

from rag import records
from rag.retrieval import chroma as store
from rag.retrieval.lexical import FileChunks, LexicalIndex, LexicalWriter, file_key
from rag.errors import BackendError
from rag.retrieval.sync import IndexedFile, lexical_dir, reconcile, scan_files
from rag.settings import Settings

from .manifest import FILENAME as MANIFEST_FILE
from .manifest import FileEntry, Manifest, ManifestDamaged


PROGRESS_STEP = 64  # chunks re-embedded between two moves of the progress bar


@dataclass(frozen=True)
class FileWrite(IndexedFile):
    """One file's new version, ready to write: its chunks' ids, texts, metadata and vectors."""

    documents: tuple[str, ...]
    metadatas: tuple[dict, ...]
    vectors: Any  # an array, one row a chunk

    def entry(self, ids: Iterable[str] | None = None) -> FileEntry:
        return FileEntry(self.root, self.source, self.file_hash, self.chunker, self.embedder,
                         tuple(self.ids if ids is None else ids))

    def lexical(self) -> FileChunks:
        return FileChunks(self.root, self.source, self.file_hash, self.ids,
                          tuple(records.index_text(d, m) for d, m in zip(self.documents, self.metadatas)),
                          tuple(records.section_key(m)[1] for m in self.metadatas))


def print_note(line: str) -> None:
    """The default listener of repairs: one line on stderr."""
    print(line, file=sys.stderr, flush=True)


class IndexWriter:
    """Writes one collection; open it with ``IndexWriter.open`` (it holds the lexical index's lock)."""

    def __init__(self, settings: Settings, collection, lexical: LexicalWriter, manifest: Manifest):
        self.settings, self.collection, self.lexical, self.manifest = settings, collection, lexical, manifest

    @classmethod
    @contextmanager
    def open(cls, settings: Settings, *, embedder_id: str | None = None, create: bool = True, progress: bool = False,
             on_note: Callable[[str], None] | None = print_note) -> Iterator["IndexWriter"]:
        """The writer of ``settings.collection``, with the manifest checked (and repaired) first.
        ``on_note`` hears about a repair; ``progress`` shows a bar while a manifest is rebuilt."""
        with store.writing(settings):  # readers in this process keep the client open meanwhile
            collection = store.open_collection(settings, create=create, embedder_id=embedder_id)
            folder = lexical_dir(settings)
            lexical = LexicalWriter(LexicalIndex.open(folder, create=True))
            manifest = None
            try:
                manifest = _manifest(folder, settings.collection, on_note)
                writer = cls(settings, collection, lexical, manifest)
                writer.repair(progress, on_note)
                yield writer
            finally:
                lexical.close()
                if manifest is not None:
                    manifest.close()

    # --- what the index holds ---------------------------------------------------------------

    def entry(self, root: str, source: str) -> FileEntry | None:
        return self.manifest.get(file_key(root, source))

    def sources_under(self, root: str) -> dict[str, str]:
        """source -> file key of every file ingested from ``root``."""
        return self.manifest.sources_under(root)

    def count(self) -> int:
        return self.collection.count()

    # --- writes ---------------------------------------------------------------------------

    def replace(self, files: list[FileWrite]) -> None:
        """Put these files' new versions in place of whatever the index held of them."""
        if not files:
            return
        import numpy as np

        old = {f.key: self.manifest.get(f.key) for f in files}
        self.manifest.begin(f.entry(dict.fromkeys((*(old[f.key].ids if old[f.key] else ()), *f.ids))) for f in files)
        store.upsert(self.collection, [i for f in files for i in f.ids], np.concatenate([np.asarray(f.vectors) for f in files]),
                     [d for f in files for d in f.documents], [m for f in files for m in f.metadatas])
        stale = [i for f in files if old[f.key] for i in old[f.key].ids if i not in set(f.ids)]
        store.delete(self.collection, stale)
        self.lexical.replace(f.lexical() for f in files)
        self.manifest.complete(f.entry() for f in files)

    def relabel(self, entry: FileEntry, chunker: str) -> None:
        """Record that ``chunker`` (a newer loader) reads ``entry``'s file to the chunks it has, so
        the file counts as read by it. The manifest only: the chunks' own metadata keeps the older
        label, so a manifest rebuilt from Chroma has the file read (and relabelled) once more."""
        self.manifest.complete([replace(entry, chunker=chunker)])

    def reembed(self, encode: Callable[[list[str]], Any], embedder_id: str, *, progress: bool = False,
                on_note: Callable[[str], None] | None = None, group_chunks: int = 512) -> int:
        """Give every chunk of a file recorded with another embedder a new vector from its stored
        text (see the module's docstring), then label the collection with ``embedder_id``; returns
        the chunks re-embedded. A file with chunks missing from Chroma is removed instead (it is
        ingested again from disk by the next run that visits it)."""
        stale = self.manifest.embedded_otherwise(embedder_id)
        total = sum(len(e.ids) for e in stale)
        if stale and on_note:
            old = ", ".join(sorted({e.embedder or "(unrecorded)" for e in stale}))
            on_note(f"re-embedding {total} chunks of {len(stale)} file(s) embedded with {old} as {embedder_id} (once)")
        bar = _bar(total, progress and bool(stale), "re-embedding")
        done = 0
        try:
            for group in _groups(stale, group_chunks):
                done += self._reembed_group(group, encode, embedder_id, bar.update if bar is not None else None)
        finally:
            if bar is not None:
                bar.close()
        if not self.manifest.embedded_otherwise(embedder_id):
            store.label_embedder(self.collection, embedder_id)
        return done

    def _reembed_group(self, group: list[FileEntry], encode, embedder_id: str,
                       on_encoded: Callable[[int], None] | None = None) -> int:
        ids = [i for e in group for i in e.ids]
        got = self.collection.get(ids=ids, include=["documents", "metadatas"])
        held = {i: (d or "", m or {}) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])}
        whole = [e for e in group if all(i in held for i in e.ids)]
        broken = [e for e in group if e not in whole]
        self.remove(e.key for e in broken)
        if broken and on_encoded:
            on_encoded(sum(len(e.ids) for e in broken))
        ids = [i for e in whole for i in e.ids]
        if not ids:
            return 0
        import numpy as np

        docs = [held[i][0] for i in ids]
        metas = [{**held[i][1], "embedder": embedder_id} for i in ids]
        texts = [records.index_text(d, m) for d, m in zip(docs, metas)]  # the text each was embedded from
        vectors = []
        for start in range(0, len(texts), PROGRESS_STEP):  # the bar moves while a group is encoded
            vectors.append(encode(texts[start:start + PROGRESS_STEP]))
            if on_encoded:
                on_encoded(len(vectors[-1]))
        vectors = np.concatenate(vectors)
        store.upsert(self.collection, ids, vectors, docs, metas)  # same ids and texts: the lexical index stands
        self.manifest.complete(replace(e, embedder=embedder_id) for e in whole)
        return len(ids)

    def remove(self, keys: Iterable[str]) -> int:
        """Drop these files from both indexes by their recorded chunk ids; returns the chunks removed."""
        entries = [e for e in map(self.manifest.get, dict.fromkeys(keys)) if e is not None]
        if not entries:
            return 0
        self.manifest.begin(entries)
        self.lexical.remove(e.key for e in entries)
        store.delete(self.collection, [i for e in entries for i in e.ids])
        self.manifest.forget(e.key for e in entries)
        return sum(len(e.ids) for e in entries)

    def remove_source(self, source: str) -> int:
        """Drop every file named ``source`` (from whichever folder it was ingested); chunks removed."""
        return self.remove(e.key for e in self.manifest.by_source(source))

    # --- repair ---------------------------------------------------------------------------

    def repair(self, progress: bool = False, on_note: Callable[[str], None] | None = None) -> None:
        """Finish what a killed writer left (drop its files from both indexes), then rebuild the
        manifest from Chroma if it is missing or its chunk count disagrees with either index."""
        unfinished = self.manifest.unfinished()
        if unfinished:
            self.lexical.remove(e.key for e in unfinished)
            store.delete(self.collection, [i for e in unfinished for i in e.ids])
            self.manifest.forget(e.key for e in unfinished)
            if on_note:
                on_note(f"cleaned up {len(unfinished)} file(s) an interrupted run left half-written; they will be ingested again")
        chunks, lexical_chunks = self.count(), _lexical_count(self.lexical)
        if self.manifest.is_built() and self.manifest.chunk_count() == chunks == lexical_chunks:
            return
        if not self.manifest.is_built() and chunks == 0 and lexical_chunks == 0:
            self.manifest.mark_built(self.settings.collection)  # a new index: nothing to read
            return
        if on_note:
            on_note(f"the manifest of collection {self.settings.collection!r} is missing or out of step with the index: "
                    f"rebuilding it from the index's {chunks} chunks (once)")
        self.rebuild(progress, chunks)

    def rebuild(self, progress: bool = False, total: int | None = None) -> None:
        """Read every chunk's record once: each file the chunks name becomes a manifest entry (one
        whose chunks disagree gets no hash, so the next ingestion replaces it), and the lexical index
        is brought in line. Nothing is deleted from Chroma."""
        bar = _bar(total, progress)
        try:
            files = scan_files(self.collection, on_page=bar.update if bar else None)
        finally:
            if bar is not None:
                bar.close()
        reconcile(self.lexical, self.collection, {k: (f.file_hash, f.ids) for k, f in files.items()})
        if _lexical_count(self.lexical) != sum(len(f.ids) for f in files.values()):
            # chunks of no recorded file (a write killed before its file entry): drop them by id
            kept = {i for f in files.values() for i in f.ids}
            self.lexical.remove_chunks(i for i in self.lexical.index.chunk_ids() if i not in kept)
        self.manifest.clear()
        self.manifest.complete(FileEntry(f.root, f.source, f.file_hash, f.chunker, f.embedder, f.ids) for f in files.values())
        self.manifest.mark_built(self.settings.collection)


def _manifest(folder, collection: str, on_note) -> Manifest:
    """The manifest in ``folder``; a damaged one is moved aside and started again (then rebuilt)."""
    try:
        return Manifest.open(folder, collection)
    except ManifestDamaged as exc:
        if on_note:
            on_note(f"manifest damaged ({exc}); it will be rebuilt from the index")
    try:
        for suffix in ("", "-wal", "-shm"):
            path = folder / f"{MANIFEST_FILE}{suffix}"
            if path.exists():
                path.replace(path.with_name(path.name + ".damaged"))
        return Manifest.open(folder, collection)
    except (OSError, ManifestDamaged) as exc:
        raise BackendError(f"the manifest in {folder} cannot be written ({exc}); check the folder's permissions") from exc


def _lexical_count(lexical: LexicalWriter) -> int:
    lexical.index.reload()
    return len(lexical.index)


def _bar(total: int | None, enabled: bool, desc: str = "rebuilding the manifest"):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="chunk", desc=desc, file=sys.stderr, leave=False)


def _groups(entries: list[FileEntry], chunks: int) -> Iterator[list[FileEntry]]:
    """Whole files, gathered until a group holds at least ``chunks`` chunks."""
    group: list[FileEntry] = []
    for e in entries:
        group.append(e)
        if sum(len(g.ids) for g in group) >= chunks:
            yield group
            group = []
    if group:
        yield group


def drop_collection(settings: Settings, name: str) -> int:
    """Delete one collection: its lexical index and manifest first (a collection left without them
    gets them rebuilt), then its chunks in Chroma; the others are untouched. Returns how many
    chunks it held."""
    target = settings.replace(collection=name)
    collection = store.open_collection(target)  # IndexMissingError names the missing collection
    count = collection.count()
    shutil.rmtree(lexical_dir(target), ignore_errors=True)
    with store.one_line_errors(target):
        store.open_client(target).delete_collection(name)
    return count
