"""One Settings object, validated at once; read from the environment only at the edges (CLI, UI)."""
from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from .errors import ConfigError, unknown_name
from .wording import load_wording

MODES = ("extractive", "local", "ollama", "openai")
EMBEDDING_BACKENDS = ("torch", "onnx", "onnx-int8", "openvino")
OCR_ENGINES = ("auto", "tesseract", "rapidocr", "none")  # ingest/ocr.py
# What decides answer or refuse and finds the short answer: the trained reader (rag/answer/reader.py),
# or the evidence-feature gate and span model it replaced (kept for `ragbot eval --compare`).
ANSWER_CORES = ("reader", "gate")
MAX_K = 50  # passages a question may ask for
# How strict refusal is (rag/answer/decision.py): each level is a threshold of the reader's
# decision, named by the share of answerable questions it aims to refuse on `dev`.
REFUSAL_LEVELS = ("strict", "balanced", "lenient")
DEFAULT_REFUSAL = "balanced"  # the decision fit_reader has always shipped


def check_k(k) -> int:
    """``k`` as an int within 1..MAX_K, or the one error every entry point gives."""
    try:
        value = int(k)
    except (TypeError, ValueError):
        raise ConfigError(f"k must be a whole number between 1 and {MAX_K}, got {k!r}") from None
    if not 1 <= value <= MAX_K:
        raise ConfigError(f"k must be between 1 and {MAX_K}, got {k}")
    return value


def check_refusal(level) -> str:
    """``level`` when it is a known refusal level, or the one error every entry point gives."""
    if level not in REFUSAL_LEVELS:
        raise unknown_name("refusal level", str(level), REFUSAL_LEVELS)
    return level


DEFAULT_MODE = "extractive"  # chosen by the golden-set evaluation: see README "Modes"


@dataclass(frozen=True)
class Settings:
    """Everything that configures ingestion and answering."""

    persist_dir: str = "data/chroma"
    collection: str = "ragbot"
    chroma_host: str | None = None
    chroma_port: int = 8000
    corpus_dir: str = "data/corpus"
    embedding_model: str = "all-MiniLM-L6-v2"
    embedding_backend: str = "onnx-int8"  # 1.7x torch's chunks/s, SciFact nDCG@10 -0.008: README "Speed"
    embed_batch_size: int = 8  # small batches stay in cache: 1.2-1.4x the chunks/s of 64 on a 2-core CPU
    ingest_flush_chunks: int = 512  # chunks embedded and written together; a crash loses at most this much work
    chunk_size: int = 800
    chunk_overlap: int = 80
    mode: str = DEFAULT_MODE
    k: int = 5
    fetch_k: int = 20
    # passages the reader reads to reorder retrieval (each moved up by its answerability and span
    # margin, rag/answer/rerank.py): manuals dev hit@5 0.83 -> 0.875, SQuAD 2.0 dev 0.947 -> 0.957,
    # essay dev unchanged (2026-12-08, reader v11); k or fewer turns it off
    rerank_depth: int = 8
    mmr: bool = False
    max_question_chars: int = 2000
    gguf_path: str | None = None
    openai_base_url: str = "http://127.0.0.1:8080/v1"
    openai_model: str = "local"
    openai_api_key: str = "not-needed"
    ollama_base_url: str = "http://127.0.0.1:11434"
    ollama_model: str = "smollm2:135m"
    llm_timeout: float = 60.0
    max_new_tokens: int = 160
    llm_passages: int = 3  # passages (cut to their best sentences) in a generative prompt
    n_threads: int | None = None
    gate_file: str | None = None
    span_file: str | None = None  # the short-answer span model (default: the packaged rag/data/span.json)
    short_answers: bool = True  # lead an extractive answer with the span that answers a factoid question
    answer_core: str = "reader"  # reader | gate (see ANSWER_CORES)
    reader_file: str | None = None  # the reader model (default: the packaged rag/data/reader.onnx)
    reader_gate_file: str | None = None  # its fitted decision (default: the packaged rag/data/reader.json)
    refusal: str = DEFAULT_REFUSAL  # how strict refusal is (REFUSAL_LEVELS); env RAGBOT_REFUSAL
    wording_rules: str = "english"  # rules about question wording: rag/wording.py (english, none)
    ocr: str = "auto"  # OCR of scanned pages and images: ingest/ocr.py (auto, tesseract, rapidocr, none)
    max_pending: int = 8  # `ragbot serve`: questions in progress at once; the next gets 503

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"unknown mode {self.mode!r}; known: {', '.join(MODES)}")
        if self.embedding_backend not in EMBEDDING_BACKENDS:
            raise ConfigError(
                f"unknown embedding backend {self.embedding_backend!r}; known: {', '.join(EMBEDDING_BACKENDS)}"
            )
        check_k(self.k)
        if self.fetch_k < self.k:
            object.__setattr__(self, "fetch_k", self.k)
        if not 1 <= self.chroma_port <= 65535:
            raise ConfigError(f"chroma port must be between 1 and 65535, got {self.chroma_port}")
        if self.chunk_size < 50:
            raise ConfigError(f"chunk size must be at least 50, got {self.chunk_size}")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise ConfigError(f"chunk overlap must be >= 0 and below chunk size, got {self.chunk_overlap}")
        if self.max_pending < 1:
            raise ConfigError(f"max pending must be at least 1, got {self.max_pending}")
        if self.embed_batch_size < 1:
            raise ConfigError(f"embed batch size must be at least 1, got {self.embed_batch_size}")
        load_wording(self.wording_rules)  # an unknown name, or family, is the error it raises
        if self.answer_core not in ANSWER_CORES:
            raise unknown_name("answer core", self.answer_core, list(ANSWER_CORES))
        check_refusal(self.refusal)
        if self.ocr not in OCR_ENGINES:
            raise unknown_name("OCR engine", self.ocr, list(OCR_ENGINES))
        if not self.collection or len(self.collection) < 3:
            raise ConfigError(f"collection name must have at least 3 characters, got {self.collection!r}")

    def replace(self, **changes) -> "Settings":
        """A copy with some fields changed (validated again)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def server_mode(self) -> bool:
        return bool(self.chroma_host)

    @property
    def cache_dir(self) -> Path:
        """Where derived local files (lexical index) live; next to the index."""
        return Path(self.persist_dir)

    @classmethod
    def from_env(cls, env: dict | None = None, **overrides) -> "Settings":
        """Settings from ``RAGBOT_*`` (and ``OPENAI_BASE_URL``) variables, then explicit overrides."""
        env = os.environ if env is None else env
        values: dict = {}
        names = {f.name: f for f in fields(cls)}
        for name, f in names.items():
            raw = env.get(f"RAGBOT_{name.upper()}")
            if raw is None:
                continue
            values[name] = _parse(name, raw, f.type)
        if env.get("RAGBOT_GGUF"):
            values["gguf_path"] = env["RAGBOT_GGUF"]
        if env.get("OPENAI_BASE_URL"):
            values["openai_base_url"] = env["OPENAI_BASE_URL"]
        if env.get("OPENAI_API_KEY"):
            values["openai_api_key"] = env["OPENAI_API_KEY"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _parse(name: str, raw: str, type_name) -> object:
    t = str(type_name)
    try:
        if "bool" in t:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if "int" in t:
            return int(raw) if raw else None
        if "float" in t:
            return float(raw)
    except ValueError:
        raise ConfigError(f"RAGBOT_{name.upper()} has a bad value {raw!r}") from None
    return raw
