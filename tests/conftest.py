"""Shared fixtures: fast fakes by default, the real models behind the ``integration`` mark."""
from __future__ import annotations

import hashlib
import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "corpus"
ESSAY = CORPUS / "political-impact-of-military-diplomacy.txt"


class FakeEmbeddings:
    """Deterministic bag-of-words vectors: texts sharing words get similar vectors. No model, no network."""

    id = "fake-bow"
    dimension = 64

    def __init__(self, fail_after: int | None = None):
        self.calls = 0
        self.texts_encoded = 0
        self.fail_after = fail_after

    def encode(self, texts, batch_size=None):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt("simulated kill")
        self.texts_encoded += len(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                h = int(hashlib.md5(w.strip(".,;:?!").encode()).hexdigest(), 16)
                out[i, h % self.dimension] += 1.0
            out[i, 0] += 0.01
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out

    def embed_documents(self, texts):
        return self.encode(texts).tolist()

    def embed_query(self, text):
        return self.encode([text])[0].tolist()


@pytest.fixture
def fake_embeddings():
    return FakeEmbeddings()


@pytest.fixture(scope="session")
def real_embeddings():
    from rag.embeddings import SentenceEmbeddings

    return SentenceEmbeddings()


@pytest.fixture
def settings(tmp_path):
    from rag.settings import Settings

    return Settings(persist_dir=str(tmp_path / "chroma"), collection="test", corpus_dir=str(tmp_path / "corpus"))


@pytest.fixture
def corpus(tmp_path):
    """A writable copy of the shipped corpus."""
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest)
    return dest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
