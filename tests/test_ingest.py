"""Incremental ingestion with fake embeddings and a real Chroma in a temporary folder."""
from __future__ import annotations

import json

import pytest

from ingest.pipeline import ingest
from rag.retrieval import chroma as store
from rag.errors import ConfigError, InputError

from .conftest import FakeEmbeddings


def chunk_counts(settings) -> dict[str, int]:
    col = store.open_collection(settings)
    counts: dict[str, int] = {}
    for _, metas in store.iter_metadata(col):
        for m in metas:
            counts[m["source"]] = counts.get(m["source"], 0) + 1
    return counts


def all_ids(settings) -> list[str]:
    return [i for ids, _ in store.iter_metadata(store.open_collection(settings)) for i in ids]


def test_first_run_adds_second_skips_without_embedding(settings, corpus):
    (corpus / "notes.md").write_text("# Notes\n\nThe envoy visited Oslo in spring.\n")
    emb = FakeEmbeddings()
    first = ingest([corpus], settings, embeddings=emb)
    assert (first.files_seen, first.added, first.unchanged) == (2, 2, 0)
    assert first.chunks_total == first.chunks_written > 10
    emb2 = FakeEmbeddings()
    second = ingest([corpus], settings, embeddings=emb2)
    assert (second.added, second.updated, second.unchanged, second.removed) == (0, 0, 2, 0)
    assert emb2.texts_encoded == 0
    assert second.chunks_total == first.chunks_total


def test_changed_file_is_replaced_and_removed_file_deleted(settings, corpus):
    notes = corpus / "notes.md"
    notes.write_text("# Notes\n\nThe envoy visited Oslo in spring.\n")
    extra = corpus / "extra.txt"
    extra.write_text("A file that will be removed.")
    ingest([corpus], settings, embeddings=FakeEmbeddings())
    before = chunk_counts(settings)
    notes.write_text("# Notes\n\nThe envoy visited Bergen in autumn.\n")
    extra.unlink()
    emb = FakeEmbeddings()
    summary = ingest([corpus], settings, embeddings=emb)
    assert (summary.updated, summary.removed, summary.unchanged) == (1, 1, 1)
    after = chunk_counts(settings)
    assert "extra.txt" not in after
    assert after["notes.md"] == 1 and before["notes.md"] == 1
    col = store.open_collection(settings)
    docs = col.get(where={"source": "notes.md"})["documents"]
    assert docs == ["# Notes\n\nThe envoy visited Bergen in autumn."]
    assert emb.texts_encoded == 1  # only the changed file was embedded


def test_bad_file_is_reported_and_the_rest_goes_on(settings, corpus):
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 8)
    seen = []
    summary = ingest([corpus], settings, embeddings=FakeEmbeddings(), on_skip=seen.append)
    assert summary.added == 1
    assert {s.path.rsplit("/", 1)[-1] for s in seen} == {"broken.pdf", "binary.txt"}
    assert all(s.reason and "\n" not in s.reason for s in seen)
    assert set(chunk_counts(settings)) == {"political-impact-of-military-diplomacy.txt"}


def test_file_that_turns_corrupt_keeps_its_old_chunks(settings, corpus):
    doc = corpus / "notes.txt"
    doc.write_text("The envoy visited Oslo in spring.")
    ingest([corpus], settings, embeddings=FakeEmbeddings())
    doc.write_bytes(b"\x00\x01\x02" * 100)
    summary = ingest([corpus], settings, embeddings=FakeEmbeddings())
    assert len(summary.skipped) == 1
    assert chunk_counts(settings)["notes.txt"] == 1  # nothing lost


def test_chunker_change_reindexes(settings, corpus):
    ingest([corpus], settings, embeddings=FakeEmbeddings())
    n_default = len(all_ids(settings))
    smaller = settings.replace(chunk_size=300, chunk_overlap=30)
    summary = ingest([corpus], smaller, embeddings=FakeEmbeddings())
    assert summary.updated == 1
    ids = all_ids(smaller)
    assert len(ids) == summary.chunks_total > n_default
    assert len(ids) == len(set(ids))


def test_embedder_change_rebuilds_collection(settings, corpus):
    ingest([corpus], settings, embeddings=FakeEmbeddings())
    other = FakeEmbeddings()
    other.id = "another-model"
    summary = ingest([corpus], settings, embeddings=other)
    assert summary.added == 1
    col = store.open_collection(settings)
    assert {m["embedder"] for _, ms in store.iter_metadata(col) for m in ms} == {"another-model"}


def test_interrupted_run_resumes_without_duplicates(settings, tmp_path, corpus):
    for i in range(12):
        (corpus / f"doc{i:02d}.txt").write_text(f"Document {i} says the envoy number {i} met delegates. " * 30)
    clean_settings = settings.replace(persist_dir=str(tmp_path / "clean"))
    clean = ingest([corpus], clean_settings, embeddings=FakeEmbeddings())
    with pytest.raises(KeyboardInterrupt):
        ingest([corpus], settings, embeddings=FakeEmbeddings(fail_after=2), flush_chunks=8)
    partial = len(all_ids(settings))
    assert 0 < partial < clean.chunks_total  # the index holds what was written, and answers queries
    resumed = ingest([corpus], settings, embeddings=FakeEmbeddings())
    assert resumed.unchanged > 0
    ids = all_ids(settings)
    assert len(ids) == len(set(ids)) == clean.chunks_total
    assert sorted(ids) == sorted(all_ids(clean_settings))


def test_single_file_argument_does_not_remove_siblings(settings, corpus):
    (corpus / "a.txt").write_text("Alpha file text.")
    ingest([corpus], settings, embeddings=FakeEmbeddings())
    summary = ingest([corpus / "a.txt"], settings, embeddings=FakeEmbeddings())
    assert summary.removed == 0 and summary.unchanged == 1
    assert len(chunk_counts(settings)) == 2


@pytest.mark.parametrize("path, message", [("/no/such/folder", "no such file or folder")])
def test_missing_path_is_an_input_error(settings, path, message):
    with pytest.raises(InputError, match=message):
        ingest([path], settings, embeddings=FakeEmbeddings())


def test_summary_json_has_the_documented_keys(settings, corpus):
    d = ingest([corpus], settings, embeddings=FakeEmbeddings()).to_dict()
    documented = {"files_seen", "added", "updated", "unchanged", "removed", "chunks_total", "seconds"}
    assert documented <= set(d)
    json.dumps(d)


def test_batches_stay_within_chromas_limit(settings, corpus, monkeypatch):
    sizes = []
    real_max = store.max_batch
    monkeypatch.setattr(store, "max_batch", lambda col: 7)
    original = type(store.open_collection(settings, create=True, embedder_id="fake-bow")).upsert

    def spy(self, **kw):
        sizes.append(len(kw["ids"]))
        return original(self, **kw)

    monkeypatch.setattr(type(store.open_collection(settings)), "upsert", spy)
    ingest([corpus], settings, embeddings=FakeEmbeddings())
    assert sizes and max(sizes) <= 7
    assert real_max is not None


def test_questions_encoded_by_another_model_than_the_index_get_a_clear_error(settings, corpus):
    from rag.retrieval import build_retriever

    ingest([corpus], settings, embeddings=FakeEmbeddings())

    class OtherModel(FakeEmbeddings):
        id = "some-other-model"

    with pytest.raises(ConfigError, match="built with the embedding model 'fake-bow'.*run `ragbot ingest`"):
        build_retriever(settings, OtherModel()).search("military diplomacy")

    class SameModelInt8(FakeEmbeddings):
        id = "fake-bow+int8"  # the same model's quantized run shares its vector space

    assert build_retriever(settings, SameModelInt8()).search("military diplomacy")
