"""Encoder backends: registry errors, cache location, and (integration) ONNX/OpenVINO agree with PyTorch offline."""
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
    assert SentenceEmbeddings(backend="onnx-int8").id == "all-MiniLM-L6-v2+int8"


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
