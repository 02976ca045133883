"""The manifest and the one index writer: ingestion learns the index's state without reading every
chunk, removes by id, and repairs a missing, damaged or half-written manifest (fake embeddings, a
real embedded Chroma and lexical index in a temporary folder)."""
from __future__ import annotations

import pytest

from ingest import manage
from ingest.manifest import FILENAME, Manifest
from ingest.pipeline import ingest
from rag.retrieval import chroma as store
from rag.retrieval import sync
from rag.retrieval.lexical import LexicalIndex
from rag.retrieval.sync import lexical_dir

from .conftest import FakeEmbeddings
from .index_checks import assert_agree


@pytest.fixture
def scans(monkeypatch):
    """Counts reads of every chunk's metadata (what the manifest exists to avoid)."""
    calls = []
    original = store.iter_metadata

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(store, "iter_metadata", counted)
    return calls


def _sources(settings) -> dict[str, int]:
    return dict(manage.list_sources(settings))


def test_add_change_remove_read_no_chunk_metadata(settings, corpus, scans):
    ingest([corpus], settings, embeddings=FakeEmbeddings(), on_note=None)
    assert not scans  # a new index: the manifest starts empty, nothing to read
    first = assert_agree(settings)
    scans.clear()

    (corpus / "new.md").write_text("# New\n\nThe harbour master counted 1,350 soldiers.\n")
    summary = ingest([corpus], settings, embeddings=FakeEmbeddings(), on_note=None)
    assert (summary.added, summary.unchanged) == (1, 1)
    (corpus / "new.md").write_text("# New\n\nThe harbour master counted 1,420 soldiers in May.\n")
    summary = ingest([corpus], settings, embeddings=FakeEmbeddings(), on_note=None)
    assert (summary.updated, summary.unchanged) == (1, 1)
    (corpus / "new.md").unlink()
    summary = ingest([corpus], settings, embeddings=FakeEmbeddings(), on_note=None)
    assert summary.removed == 1
    assert not scans, "ingestion read every chunk's metadata"
    assert assert_agree(settings) == first


def test_changed_file_keeps_only_its_new_chunks(settings, corpus):
    notes = corpus / "notes.md"
    notes.write_text("# Notes\n\nThe envoy visited Oslo in spring.\n\n" + "Another line of notes. " * 80)
    ingest([corpus], settings, embeddings=FakeEmbeddings(), on_note=None)
    before = _sources(settings)["notes.md"]
    old = store.open_collection(settings).get(where={"source": "notes.md"})["ids"]
    notes.write_text("# Notes\n\nThe envoy visited Bergen in autumn.\n")
    ingest([corpus], settings, embeddings=FakeEmbeddings(), on_note=None)
    assert before > 1 and _sources(settings)["notes.md"] == 1
    docs = store.open_collection(settings).get(where={"source": "notes.md"})["documents"]
    assert docs == ["# Notes\n\nThe envoy visited Bergen in autumn."]
    assert_agree(settings)
    now = store.open_collection(settings).get(where={"source": "notes.md"})["ids"]
    lexical = LexicalIndex.open(lexical_dir(settings))
    assert lexical.held([*old, *now]) == now  # the old chunks are gone from the lexical index too


def test_missing_manifest_is_rebuilt_once_and_said(settings, corpus):
    ingest([corpus], settings, embeddings=FakeEmbeddings(), on_note=None)
    chunks = assert_agree(settings)
    (lexical_dir(settings) / FILENAME).unlink()
    notes: list[str] = []
    emb = FakeEmbeddings()
    summary = ingest([corpus], settings, embeddings=emb, on_note=notes.append)
    assert len(notes) == 1 and "rebuilding it from the index" in notes[0]
    assert (summary.unchanged, summary.added, emb.texts_encoded) == (1, 0, 0)
    assert assert_agree(settings) == chunks
    again: list[str] = []
    ingest([corpus], settings, embeddings=FakeEmbeddings(), on_note=again.append)
    assert again == []


def test_damaged_manifest_is_moved_aside_and_rebuilt(settings, corpus):
    ingest([corpus], settings, embeddings=FakeEmbeddings(), on_note=None)
    path = lexical_dir(settings) / FILENAME
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    notes: list[str] = []
    summary = ingest([corpus], settings, embeddings=FakeEmbeddings(), on_note=notes.append)
    assert any("damaged" in n for n in notes) and any("rebuilding" in n for n in notes)
    assert summary.unchanged == 1
    assert path.with_name(path.name + ".damaged").exists()
    assert_agree(settings)


def test_manifest_out_of_step_with_chroma_is_rebuilt(settings, corpus):
    """A chunk deleted behind the writer's back: the counts disagree, so the manifest is not trusted."""
    ingest([corpus], settings, embeddings=FakeEmbeddings(), on_note=None)
    collection = store.open_collection(settings)
    victim = collection.get(limit=1)["ids"]
    collection.delete(ids=victim)
    notes: list[str] = []
    emb = FakeEmbeddings()
    summary = ingest([corpus], settings, embeddings=emb, on_note=notes.append)
    assert any("rebuilding" in n for n in notes)
    assert summary.updated == 1 and emb.texts_encoded > 0  # the file that lost a chunk is ingested again
    assert_agree(settings)


def test_remove_source_deletes_by_id_without_reading_every_chunk(settings, corpus, scans):
    (corpus / "extra.md").write_text("# Extra\n\nA file to remove.\n")
    ingest([corpus], settings, embeddings=FakeEmbeddings(), on_note=None)
    scans.clear()
    settings = settings.replace(corpus_dir=str(corpus))
    done = manage.remove_source(settings, "extra.md")
    assert done == {"source": "extra.md", "chunks_removed": 1, "file_deleted": True}
    assert "extra.md" not in _sources(settings)
    assert not scans
    assert_agree(settings)


def test_list_sources_reads_the_manifest(settings, corpus, scans):
    ingest([corpus], settings, embeddings=FakeEmbeddings(), on_note=None)
    scans.clear()
    listed = manage.list_sources(settings)
    assert not scans and [s for s, _ in listed] == ["political-impact-of-military-diplomacy.txt"]
    manifest = Manifest.open(lexical_dir(settings), settings.collection)
    assert dict(listed) == manifest.sources()
    manifest.close()


def test_unfinished_write_is_cleaned_and_redone(settings, corpus):
    """A row left ``writing`` (a killed writer): its ids leave both indexes, then the file comes back."""
    ingest([corpus], settings, embeddings=FakeEmbeddings(), on_note=None)
    chunks = assert_agree(settings)
    manifest = Manifest.open(lexical_dir(settings), settings.collection)
    entry = next(manifest.entries())
    manifest.begin([entry])
    manifest.close()
    notes: list[str] = []
    emb = FakeEmbeddings()
    summary = ingest([corpus], settings, embeddings=emb, on_note=notes.append)
    assert any("half-written" in n for n in notes)
    assert summary.added == 1 and emb.texts_encoded == chunks
    assert assert_agree(settings) == chunks


def test_delete_collection_takes_its_manifest(settings, corpus):
    ingest([corpus], settings, embeddings=FakeEmbeddings(), on_note=None)
    assert (lexical_dir(settings) / FILENAME).exists()
    manage.delete_collection(settings, settings.collection)
    assert not (lexical_dir(settings) / FILENAME).exists()
    summary = ingest([corpus], settings, embeddings=FakeEmbeddings(), on_note=None)
    assert summary.added == 1
    assert_agree(settings)


def test_scan_files_gives_a_partial_file_no_hash(settings, corpus):
    ingest([corpus], settings, embeddings=FakeEmbeddings(), on_note=None)
    collection = store.open_collection(settings)
    (whole,) = sync.scan_files(collection).values()
    assert whole.file_hash and len(whole.ids) == collection.count()
    collection.delete(ids=collection.get(limit=1)["ids"])
    (partial,) = sync.scan_files(collection).values()
    assert partial.file_hash == "" and len(partial.ids) == collection.count()


def test_same_file_in_two_folders_is_two_files(settings, tmp_path):
    """Chunk ids are scoped to the ingested folder: removing one copy leaves the other whole."""
    one, two = tmp_path / "one", tmp_path / "two"
    for folder in (one, two):
        folder.mkdir()
        (folder / "same.md").write_text("# Same\n\nIdentical text in two folders.\n")
    ingest([one], settings, embeddings=FakeEmbeddings(), on_note=None)
    ingest([two], settings, embeddings=FakeEmbeddings(), on_note=None)
    assert assert_agree(settings) == 2
    (two / "same.md").unlink()
    assert ingest([two], settings, embeddings=FakeEmbeddings(), on_note=None).removed == 1
    assert assert_agree(settings) == 1
    assert _sources(settings) == {"same.md": 1}


def test_a_file_read_by_an_older_loader_is_read_again(settings, corpus, monkeypatch):
    """Markdown's loader now writes pipe tables as rows: a .md file indexed by the loader before
    (no version) is read again though its bytes did not change; then it is unchanged again, and a
    .txt file (its loader unchanged) is never read again. A .md file that the new loader reads to
    the same chunks (no table) is only relabelled: nothing of it is embedded again."""
    from ingest import loaders, pipeline

    (corpus / "ports.md").write_text("# Ports\n\n| Port | Ships |\n|---|---|\n| Greyhaven | 35 |\n")
    (corpus / "notes.md").write_text("# Notes\n\nThe harbor opened in 1874 and has no table.\n")
    monkeypatch.setattr(pipeline, "loader_version", lambda suffix: "")  # the loader before: no version,
    monkeypatch.setitem(loaders.LOADERS, ".md", loaders.load_text)  # the text as it is
    first = ingest([corpus], settings, embeddings=FakeEmbeddings(), on_note=None)
    assert first.added == 3
    docs = store.open_collection(settings).get(where={"source": "ports.md"})["documents"]
    assert not any("Port: Greyhaven | Ships: 35" in d for d in docs)  # the table as it was read before
    monkeypatch.undo()
    embeddings = FakeEmbeddings()
    again = ingest([corpus], settings, embeddings=embeddings, on_note=None)
    assert (again.updated, again.unchanged) == (1, 2)  # ports.md read again; the essay not, notes.md relabelled
    docs = store.open_collection(settings).get(where={"source": "ports.md"})["documents"]
    assert any("Port: Greyhaven | Ships: 35" in d for d in docs)
    assert embeddings.texts_encoded == again.chunks_written == len(docs)  # ports.md's chunks alone
    assert ingest([corpus], settings, embeddings=FakeEmbeddings(), on_note=None).unchanged == 3
    assert_agree(settings)
