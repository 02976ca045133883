"""``ragbot bench ingest``'s batch-invariance row and its batched-int8 baseline, with fake encoders."""
from __future__ import annotations

import numpy as np

from eval.bench_ingest import BatchedInt8Embeddings, batch_invariance
from rag.settings import Settings

from .conftest import FakeEmbeddings

TEXTS = [f"Chunk {i} is about " + "envoys and treaties " * (i % 7 + 1) for i in range(40)]


class BatchMates(FakeEmbeddings):
    """Vectors pulled toward their batch's mean, as activations quantized per batch move them."""

    def encode(self, texts, batch_size=None):
        out = super().encode(texts)
        out = out + 0.05 * out.mean(axis=0)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_an_encoder_that_ignores_the_batch_scores_one():
    got = batch_invariance(FakeEmbeddings(), TEXTS, sample=10, batch=32)
    assert (got["chunks"], got["batch"]) == (10, 32)
    assert got["min_cosine"] == got["mean_cosine"] == 1.0


def test_an_encoder_that_moves_with_its_batch_is_caught():
    got = batch_invariance(BatchMates(), TEXTS, sample=10, batch=32)
    assert got["min_cosine"] < 0.9999 and got["min_cosine"] <= got["mean_cosine"] < 1.0


def test_fewer_texts_than_the_sample_are_each_compared_once():
    assert batch_invariance(FakeEmbeddings(), TEXTS[:5], sample=24, batch=32)["chunks"] == 5


def test_the_baseline_is_the_batched_int8_encoder_under_its_old_fingerprint(monkeypatch):
    made = []
    monkeypatch.setattr("rag.encoders.load_onnx", lambda path, quantized, one_text_a_run: made.append(
        (quantized, one_text_a_run)) or "batched encoder")
    emb = BatchedInt8Embeddings(Settings())
    assert made == [(True, False)] and emb.model == "batched encoder"
    assert emb.id == "all-MiniLM-L6-v2+int8"
