"""What the three stores of an index hold, for tests that check they agree."""
from __future__ import annotations

from collections import Counter

from ingest.manifest import COMPLETE, Manifest
from rag.retrieval import chroma as store
from rag.retrieval.lexical import LexicalIndex
from rag.retrieval.sync import lexical_dir


def manifest_ids(settings) -> tuple[Counter, list]:
    """(ids of complete files, entries being written) as the manifest records them."""
    manifest = Manifest.open(lexical_dir(settings), settings.collection)
    try:
        entries = list(manifest.entries())
    finally:
        manifest.close()
    return Counter(i for e in entries if e.state == COMPLETE for i in e.ids), [e for e in entries if e.state != COMPLETE]


def chroma_ids(settings, page: int = 50_000) -> Counter:
    collection = store.open_collection(settings)
    found: Counter = Counter()
    while True:
        ids = collection.get(include=[], limit=page, offset=sum(found.values()))["ids"]
        found.update(ids)
        if len(ids) < page:
            return found


def lexical_ids(settings) -> Counter:
    return Counter(LexicalIndex.open(lexical_dir(settings)).chunk_ids())


def assert_counts_agree(settings) -> int:
    """Nothing is being written and the three stores count the same chunks (no id read); returns how many."""
    manifest = Manifest.open(lexical_dir(settings), settings.collection)
    try:
        complete, writing = manifest.chunk_count(), manifest.unfinished()
    finally:
        manifest.close()
    chroma = store.open_collection(settings).count()
    lexical = len(LexicalIndex.open(lexical_dir(settings)))
    assert not writing, f"{len(writing)} file(s) still marked as being written"
    assert complete == chroma == lexical, f"manifest {complete}, Chroma {chroma}, lexical index {lexical} chunks"
    return chroma


def file_ids_everywhere(settings, ids) -> bool:
    """These chunk ids are in Chroma and in the lexical index."""
    ids = list(ids)
    found = store.open_collection(settings).get(ids=ids, include=[])["ids"]
    in_lexical = LexicalIndex.open(lexical_dir(settings)).held(ids)
    return sorted(found) == sorted(ids) == sorted(in_lexical)


def assert_agree(settings) -> int:
    """The manifest, Chroma and the lexical index hold the same chunks, each once; returns how many."""
    complete, writing = manifest_ids(settings)
    chroma, lexical = chroma_ids(settings), lexical_ids(settings)
    assert not writing, f"{len(writing)} file(s) still marked as being written"
    assert max(chroma.values(), default=1) == 1 and max(lexical.values(), default=1) == 1, "a chunk indexed twice"
    assert set(complete) == set(chroma), f"manifest vs Chroma: {len(set(complete) ^ set(chroma))} ids differ"
    assert set(chroma) == set(lexical), f"Chroma vs lexical index: {len(set(chroma) ^ set(lexical))} ids differ"
    return len(chroma)


def assert_manifest_claims_only_whole_files(settings) -> None:
    """What a crash may leave: every file the manifest calls complete is whole in both indexes."""
    complete, _ = manifest_ids(settings)
    chroma, lexical = chroma_ids(settings), lexical_ids(settings)
    assert not set(complete) - set(chroma), "the manifest claims chunks Chroma lacks"
    assert not set(complete) - set(lexical), "the manifest claims chunks the lexical index lacks"
