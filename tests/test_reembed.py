"""An index whose vectors another embedder of the same model made is re-embedded once, from the
texts it holds, in place, with a progress bar; a run killed midway loses nothing and the next one
finishes. Fake embeddings, a real Chroma in a temporary folder."""
from __future__ import annotations

import numpy as np
import pytest

from ingest.index_writer import IndexWriter
from ingest.manifest import Manifest
from ingest.pipeline import ingest
from rag import records
from rag.retrieval import chroma as store
from rag.retrieval.sync import lexical_dir

from .conftest import FakeEmbeddings


class OldVectors(FakeEmbeddings):
    """The model's vectors as an older encoder made them."""

    id = "fake-bow+old"


class NewVectors(FakeEmbeddings):
    """The same model's vectors made another way (here: with a different bias), under a new fingerprint."""

    id = "fake-bow+new"

    def encode(self, texts, batch_size=None):
        out = super().encode(texts)
        out[:, 1] += 0.5
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def index_state(settings) -> dict:
    """id -> (text, metadata, vector) of every chunk in Chroma."""
    got = store.open_collection(settings).get(include=["documents", "metadatas", "embeddings"])
    return {i: (d, m, np.asarray(v)) for i, d, m, v in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"])}


def manifest_embedders(settings) -> dict[str, str]:
    manifest = Manifest.open(lexical_dir(settings), settings.collection)
    try:
        return {e.source: e.embedder for e in manifest.entries()}
    finally:
        manifest.close()


def many_files(corpus, n: int = 12) -> None:
    for i in range(n):
        (corpus / f"doc{i:02d}.txt").write_text(f"Document {i} says the envoy number {i} met delegates. " * 30)


def test_old_fingerprint_is_reembedded_once_in_place(settings, corpus, capsys, tmp_path):
    ingest([corpus], settings, embeddings=OldVectors())
    before = index_state(settings)
    notes: list[str] = []
    new = NewVectors()
    summary = ingest([corpus], settings, embeddings=new, progress=True, on_note=notes.append)

    assert summary.chunks_reembedded == len(before) == new.texts_encoded  # every chunk once, nothing else
    assert (summary.added, summary.updated, summary.unchanged, summary.chunks_written) == (0, 0, 1, 0)
    after = index_state(settings)
    assert set(after) == set(before)  # same ids: nothing deleted or added
    for cid, (text, meta, vector) in after.items():
        assert text == before[cid][0] and meta["embedder"] == "fake-bow+new"
        expected = NewVectors().encode([records.index_text(text, meta)])[0]
        assert np.allclose(vector, expected, atol=1e-6)  # the vector of the text it was embedded from
        assert not np.allclose(vector, before[cid][2], atol=1e-3)
    assert (store.open_collection(settings).metadata or {})["embedder"] == "fake-bow+new"
    assert set(manifest_embedders(settings).values()) == {"fake-bow+new"}
    fresh = settings.replace(persist_dir=str(tmp_path / "fresh"))
    ingest([corpus], fresh, embeddings=NewVectors())
    assert all(np.allclose(after[i][2], v, atol=1e-6) for i, (_, _, v) in index_state(fresh).items())  # as ingestion embeds
    assert any(f"re-embedding {len(before)} chunks of 1 file(s) embedded with fake-bow+old" in n for n in notes)
    assert "re-embedding" in capsys.readouterr().err  # the progress bar

    again = NewVectors()
    third = ingest([corpus], settings, embeddings=again)
    assert third.chunks_reembedded == 0 and again.texts_encoded == 0 and third.unchanged == 1


def test_a_changed_file_is_embedded_once_not_reembedded_too(settings, corpus):
    (corpus / "notes.txt").write_text("The envoy visited Oslo in spring.")
    ingest([corpus], settings, embeddings=OldVectors())
    (corpus / "notes.txt").write_text("The envoy visited Bergen in autumn.")
    new = NewVectors()
    summary = ingest([corpus], settings, embeddings=new)
    assert summary.updated == 1 and summary.chunks_written == 1
    assert new.texts_encoded == summary.chunks_total  # the essay re-embedded, the changed file embedded, once each
    assert set(manifest_embedders(settings).values()) == {"fake-bow+new"}


def test_a_killed_reembedding_loses_nothing_and_the_next_run_finishes(settings, corpus):
    many_files(corpus)
    ingest([corpus], settings, embeddings=OldVectors())
    before = index_state(settings)

    class Killed(NewVectors):
        pass

    with pytest.raises(KeyboardInterrupt):
        ingest([corpus], settings, embeddings=Killed(fail_after=2), flush_chunks=8)
    store.forget_client(settings)
    halfway = index_state(settings)
    assert set(halfway) == set(before) and all(halfway[i][0] == before[i][0] for i in before)
    embedders = manifest_embedders(settings)
    assert set(embedders.values()) == {"fake-bow+old", "fake-bow+new"}  # some files done, the rest still old
    assert (store.open_collection(settings).metadata or {})["embedder"] == "fake-bow+old"  # not all done yet

    rest = NewVectors()
    summary = ingest([corpus], settings, embeddings=rest, flush_chunks=8)
    left = sum(1 for i, (_, m, _) in halfway.items() if m["embedder"] == "fake-bow+old")
    assert summary.chunks_reembedded == rest.texts_encoded == left < len(before)
    after = index_state(settings)
    assert set(after) == set(before)
    assert {m["embedder"] for _, m, _ in after.values()} == {"fake-bow+new"}
    assert (store.open_collection(settings).metadata or {})["embedder"] == "fake-bow+new"
    with IndexWriter.open(settings, embedder_id=rest.id, on_note=None) as writer:
        assert writer.manifest.chunk_count() == writer.count() == len(writer.lexical.index) == len(before)


def test_another_model_still_rebuilds_the_collection(settings, corpus):
    ingest([corpus], settings, embeddings=OldVectors())

    class OtherModel(FakeEmbeddings):
        id = "other-model+int8"

    summary = ingest([corpus], settings, embeddings=OtherModel())
    assert summary.added == 1 and summary.chunks_reembedded == 0  # read and embedded anew, not re-embedded
    assert {m["embedder"] for _, m, _ in index_state(settings).values()} == {"other-model+int8"}
