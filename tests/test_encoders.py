"""Encoder backends: registry errors, cache location, one text a run for int8, and (integration) ONNX/OpenVINO
agree with PyTorch offline and int8 vectors do not depend on their batch."""
from __future__ import annotations

import numpy as np
import pytest

from rag import encoders
from rag.errors import ConfigError

SENTENCES = [
    "Soft power, a term coined by Joseph Nye, rests on attraction rather than coercion.",
    "Peacekeeping missions deploy troops to keep a ceasefire.",
    "The quick brown fox jumps over the lazy dog.",
    "Vitamin D deficiency is associated with a higher risk of fractures. " * 30,  # past the 256-token limit
]


def test_unknown_backend_lists_the_known_ones(tmp_path):
    with pytest.raises(ConfigError, match="unknown embedding backend 'cuda'; known: torch, onnx, onnx-int8, openvino"):
        encoders.load_encoder(tmp_path, "cuda")


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"RAGBOT_CACHE_DIR": "/x/cache"}, "/x/cache"),
        ({"XDG_CACHE_HOME": "/x/xdg"}, "/x/xdg/ragbot"),
    ],
)
def test_cache_dir_follows_the_environment(monkeypatch, env, expected):
    monkeypatch.delenv("RAGBOT_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert str(encoders.cache_dir()) == expected


def test_weights_key_changes_when_the_weights_change(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"a")
    (tmp_path / "config.json").write_text("{}")
    before = encoders._weights_key(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"ab")
    assert encoders._weights_key(tmp_path) != before


def test_graph_encoder_keeps_input_order_and_batches_by_length(tmp_path):
    import json

    (tmp_path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 8}))
    from rag.embeddings import resolve_model_path

    model = resolve_model_path("all-MiniLM-L6-v2")
    (tmp_path / "tokenizer.json").write_bytes((model / "tokenizer.json").read_bytes())
    seen: list[tuple] = []
    bulk_flags: list[bool] = []

    def run(feeds, bulk):  # a fake graph: the embedding is the token count, so order can be checked
        seen.append(feeds["input_ids"].shape)
        bulk_flags.append(bulk)
        n = feeds["attention_mask"].sum(axis=1, keepdims=True).astype(np.float32)
        return np.hstack([n, np.zeros_like(n)])

    enc = encoders.GraphEncoder(tmp_path, run, dimension=2)
    texts = ["a", "a b c d e f g h i j k l", "a b"]
    out = enc.encode(texts, batch_size=2)
    assert out[:, 0].tolist() == [3.0, 8.0, 4.0]  # [CLS] + words + [SEP], truncated at 8
    assert seen == [(2, 8), (1, 3)]  # longest first, padded only to the longest of each batch
    assert bulk_flags == [True, True]  # several batches in a row
    assert enc.encode("a b").shape == (2,)
    assert bulk_flags[-1] is False  # a single query


def test_one_text_a_run_feeds_each_text_alone_and_unpadded(tmp_path):
    import json

    (tmp_path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 8}))
    from rag.embeddings import resolve_model_path

    (tmp_path / "tokenizer.json").write_bytes((resolve_model_path("all-MiniLM-L6-v2") / "tokenizer.json").read_bytes())
    seen: list[tuple] = []
    bulk_flags: list[bool] = []

    def run(feeds, bulk):  # a fake graph: the embedding is the token count and the padding seen
        seen.append(feeds["input_ids"].shape)
        bulk_flags.append(bulk)
        n = feeds["attention_mask"].sum(axis=1, keepdims=True).astype(np.float32)
        return np.hstack([n, (feeds["input_ids"] == 0).sum(axis=1, keepdims=True).astype(np.float32)])

    enc = encoders.GraphEncoder(tmp_path, run, dimension=2, one_text_a_run=True)
    texts = ["a", "a b c d e f g h i j k l", "a b"]
    out = enc.encode(texts, batch_size=2)
    assert out.tolist() == [[3.0, 0.0], [8.0, 0.0], [4.0, 0.0]]  # in input order, truncated at 8, no padding
    assert seen == [(1, 8), (1, 4), (1, 3)]  # one text a run, longest first
    assert bulk_flags == [True, True, True]  # several runs in a row keep the threads hot
    assert enc.encode("a b").tolist() == [4.0, 0.0] and bulk_flags[-1] is False


def test_only_the_int8_backend_runs_one_text_at_a_time(monkeypatch, tmp_path):
    monkeypatch.setattr(encoders, "quantized_onnx_path", lambda model_path: tmp_path / "int8.onnx")
    monkeypatch.setattr(encoders, "onnx_path", lambda model_path: tmp_path / "float.onnx")
    made = []
    monkeypatch.setattr(encoders, "GraphEncoder", lambda path, run, dim, one_text_a_run: made.append(one_text_a_run))
    monkeypatch.setattr(encoders, "_dimension", lambda model_path: 384)
    encoders.load_onnx_int8(tmp_path)
    encoders.load_onnx(tmp_path)
    encoders.load_onnx(tmp_path, quantized=True, one_text_a_run=False)  # the batched way, for the benchmark
    assert made == [True, False, False]


@pytest.mark.integration
def test_int8_vectors_do_not_depend_on_their_batch():
    """The same text gets the same vector alone and in a batch of 32 texts of other lengths."""
    from ingest.chunking import split_document
    from ingest.loaders import load_bytes
    from rag.embeddings import SentenceEmbeddings

    from .conftest import ESSAY

    chunks = [c.embedding_text() for c in split_document(load_bytes(ESSAY.read_bytes(), ESSAY.name, ".txt"))]
    assert len(chunks) >= 32
    by_length = sorted(chunks, key=len)
    extremes = [by_length[0], by_length[len(by_length) // 2], by_length[-1]]  # shortest, middle, longest
    others = [c for c in chunks if c not in extremes][:31] + SENTENCES[:3]
    emb = SentenceEmbeddings(backend="onnx-int8")
    for text in extremes:
        alone = emb.encode([text])[0]
        batch = [*others[:15], text, *others[15:31]]
        assert len(batch) == 32 and len({len(t) for t in batch}) > 20
        for size in (32, 8):  # one batch of 32 at once, and ingestion's batches of 8
            together = emb.encode(batch, batch_size=size)[15]
            assert float(alone @ together) >= 0.9999, (size, float(alone @ together))


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["onnx", "onnx-int8", "openvino"])
def test_backend_loads_offline_and_matches_torch(backend, monkeypatch, tmp_path_factory):
    if backend == "openvino":
        pytest.importorskip("openvino")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from rag.embeddings import SentenceEmbeddings

    torch_vecs = SentenceEmbeddings(backend="torch").encode(SENTENCES)
    vecs = SentenceEmbeddings(backend=backend).encode(SENTENCES)
    assert vecs.shape == torch_vecs.shape == (len(SENTENCES), 384)
    cosines = np.sum(vecs * torch_vecs, axis=1)
    assert cosines.min() > (0.97 if backend == "onnx-int8" else 0.9999), cosines
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    # What retrieval needs: every sentence's nearest neighbours come in the same order.
    assert (np.argsort(-(vecs @ vecs.T), axis=1) == np.argsort(-(torch_vecs @ torch_vecs.T), axis=1)).all()


def test_only_quantized_backends_change_the_embedder_id():
    from rag.embeddings import SentenceEmbeddings

    assert SentenceEmbeddings(backend="torch").id == SentenceEmbeddings(backend="onnx").id == "all-MiniLM-L6-v2"
    # "int8.2": vectors quantized one text at a time (issue 33); the batched "int8" ones are re-embedded
    assert SentenceEmbeddings(backend="onnx-int8").id == "all-MiniLM-L6-v2+int8.2"


def test_onnx_path_exports_once_then_reuses_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("RAGBOT_CACHE_DIR", str(tmp_path / "cache"))
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    calls = []

    def fake_export(model_path, target):
        calls.append(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"graph")
        return target

    monkeypatch.setattr(encoders, "export_onnx", fake_export)
    first = encoders.onnx_path(model)
    assert encoders.onnx_path(model) == first
    assert len(calls) == 1 and first.is_relative_to(tmp_path / "cache")


def test_quantized_graph_is_made_once_from_the_float_graph(monkeypatch, tmp_path, capsys):
    source = tmp_path / "onnx" / "m" / "model.onnx"
    source.parent.mkdir(parents=True)
    source.write_bytes(b"float graph")
    monkeypatch.setattr(encoders, "onnx_path", lambda model_path: source)
    calls = []

    def fake_quantize(src, target):
        calls.append(src)
        target.write_bytes(b"int8 graph")
        return target

    monkeypatch.setattr(encoders, "quantize_onnx", fake_quantize)
    first = encoders.quantized_onnx_path(tmp_path / "model")
    told = capsys.readouterr().err
    assert "quantizing the encoder to int8" in told and told.count("\n") == 1  # the user is told, once
    assert encoders.quantized_onnx_path(tmp_path / "model") == first == source.with_name("model-int8.onnx")
    assert calls == [source] and capsys.readouterr().err == ""
