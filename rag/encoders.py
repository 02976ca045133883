"""Sentence encoders by backend: PyTorch (sentence-transformers), ONNX Runtime (float or int8), OpenVINO.

The ONNX and OpenVINO backends run one graph exported locally from the packaged PyTorch weights
(transformer + mean pooling + L2 normalisation), cached in a user cache folder and written
atomically, so they need no hub, no optimum and no second download. ``onnx-int8`` quantizes that
graph's weight matrices to int8 per output channel with ONNX Runtime's own dynamic quantizer
(activations are quantized on the fly), which runs faster on CPUs without VNNI too. The dynamic
quantizer takes one scale over a whole input tensor, so ``onnx-int8`` runs each text through the
graph on its own: a text's vector then never depends on the texts (or the padding) beside it.
sentence-transformers' own
``backend="onnx"`` needs ``optimum``, whose installation has pulled huggingface-hub below what
gradio 6 requires; exporting with ``torch.onnx`` (plus the small ``onnx`` package) avoids it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import ConfigError

EXPORT_VERSION = "1"  # bump when the exported graph changes, so stale caches are not reused
OPSET = 17
_export_lock = threading.Lock()


def cache_dir() -> Path:
    """Where exported graphs live: ``$RAGBOT_CACHE_DIR``, else ``$XDG_CACHE_HOME/ragbot``, else ``~/.cache/ragbot``."""
    if os.environ.get("RAGBOT_CACHE_DIR"):
        return Path(os.environ["RAGBOT_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ragbot"


def cpu_threads() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _weights_key(model_path: Path) -> str:
    """Identifies the weights cheaply: folder, and name, size and mtime of every weight and config file."""
    h = hashlib.sha256(f"{EXPORT_VERSION}|{model_path.resolve()}".encode())
    for f in sorted(model_path.iterdir()):
        if f.is_file() and f.suffix in (".safetensors", ".bin", ".json"):
            st = f.stat()
            h.update(f"|{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def max_seq_length(model_path: Path) -> int:
    """The model's token limit as sentence-transformers applies it (sentence_bert_config.json)."""
    try:
        return int(json.loads((model_path / "sentence_bert_config.json").read_text())["max_seq_length"])
    except (OSError, KeyError, ValueError):
        return 256


def onnx_path(model_path: Path) -> Path:
    """The cached ONNX graph for ``model_path``, exported on first use."""
    model_path = Path(model_path)
    target = cache_dir() / "onnx" / f"{model_path.name}-{_weights_key(model_path)}" / "model.onnx"
    return _made_once(target, lambda: export_onnx(model_path, target), "exporting the encoder to ONNX")


def quantized_onnx_path(model_path: Path) -> Path:
    """The cached int8 graph for ``model_path``, quantized from the float graph on first use."""
    source = onnx_path(model_path)
    target = source.with_name("model-int8.onnx")
    return _made_once(target, lambda: quantize_onnx(source, target), "quantizing the encoder to int8")


def _made_once(target: Path, make: Callable[[], object], what: str = "preparing the encoder") -> Path:
    """``target``, made by ``make()`` unless it exists; one maker at a time in this process
    (the makers write atomically, so other processes see a whole file or none). Making takes
    seconds, once per machine, so the user is told on stderr rather than left waiting."""
    if not target.exists():
        with _export_lock:
            if not target.exists():
                print(f"ragbot: {what} (once on this machine, some seconds): {target}", file=sys.stderr, flush=True)
                make()
    return target


def quantize_onnx(source: Path, target: Path) -> Path:
    """Dynamic int8 quantization of the MatMul weights, per channel, written atomically.

    Only matrix products with a constant weight are quantized (attention's activation-by-activation
    products stay float): per-channel int8 weights keep the embeddings within cosine 0.98 of the
    float ones (mean 0.99) on SciFact chunks.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fd, tmp = tempfile.mkstemp(prefix=".quantize-", suffix=".onnx", dir=target.parent)
    os.close(fd)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs a "pre-process first" hint on the root logger
    try:
        quantize_dynamic(
            str(source), tmp, weight_type=QuantType.QInt8, per_channel=True,
            op_types_to_quantize=["MatMul"], extra_options={"MatMulConstBOnly": True},
        )
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        root.setLevel(level)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def export_onnx(model_path: Path, target: Path) -> Path:
    """Export transformer + mean pooling + normalisation to ONNX, atomically (temp file, then rename)."""
    try:
        import onnx  # noqa: F401  (torch's exporter needs it; fail with a clear message)
    except ImportError:
        raise ConfigError("the onnx embedding backend needs the `onnx` package: pip install onnx") from None
    import torch
    from transformers import AutoModel

    class _SentenceGraph(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    model = AutoModel.from_pretrained(str(model_path), local_files_only=True).eval()
    dummy = torch.ones(2, 8, dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".onnx", dir=target.parent)
    os.close(fd)
    try:
        import warnings

        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _SentenceGraph(model),
                (dummy, dummy, torch.zeros_like(dummy)),
                tmp,
                input_names=names,
                output_names=["sentence_embedding"],
                dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "sentence_embedding": {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,  # the TorchScript exporter needs no onnxscript and handles BERT exactly
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


class GraphEncoder:
    """A ``SentenceTransformer.encode``-compatible encoder over an exported sentence graph.

    Texts are sorted by length and batched so padding stays short, as sentence-transformers does.
    With ``one_text_a_run`` each text goes through the graph alone and unpadded (still tokenized in
    batches): a graph that quantizes its activations per tensor then gives a text the same vector
    whatever it is embedded with (int8, essay chunks alone vs in a batch of 32: cosine >= 0.999999,
    batched 0.994). It costs no speed on the 2-core machine, where no padding is computed: int8
    SciFact chunks/s 1.03-1.33x the batched way's, ingestion 1.16-1.51x, in three interleaved runs.
    Weight-only int8 (MatMulNBits, float activations) was as invariant but 0.69-0.73x as fast.
    """

    def __init__(self, model_path: Path, run: Callable[[dict, bool], np.ndarray], dimension: int,
                 one_text_a_run: bool = False):
        from tokenizers import Tokenizer

        self.max_seq_length = max_seq_length(model_path)
        self._tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        self._tokenizer.enable_truncation(self.max_seq_length)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._run = run
        self._dimension = dimension
        self.one_text_a_run = one_text_a_run

    def get_sentence_embedding_dimension(self) -> int:
        return self._dimension

    def encode(self, sentences, batch_size: int = 32, normalize_embeddings: bool = True,
               convert_to_numpy: bool = True, show_progress_bar: bool = False, **_ignored) -> np.ndarray:
        """Embeddings of ``sentences`` in input order (always L2-normalised: the graph does it)."""
        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        # several runs in a row: the runtime may keep its threads hot
        bulk = len(texts) > (1 if self.one_text_a_run else batch_size)
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            enc = self._tokenizer.encode_batch([texts[i] for i in idx])
            if self.one_text_a_run:
                for i, e in zip(idx, enc):
                    n = sum(e.attention_mask)  # padding is on the right: the text's own tokens come first
                    out[i] = self._run(_feeds([e.ids[:n]], [e.attention_mask[:n]], [e.type_ids[:n]]), bulk)[0]
            else:
                out[idx] = self._run(_feeds([e.ids for e in enc], [e.attention_mask for e in enc],
                                            [e.type_ids for e in enc]), bulk)
        return out[0] if single else out


def _feeds(ids: list, mask: list, types: list) -> dict:
    """The graph's inputs for rows of token ids, attention masks and token types."""
    return {
        "input_ids": np.array(ids, dtype=np.int64),
        "attention_mask": np.array(mask, dtype=np.int64),
        "token_type_ids": np.array(types, dtype=np.int64),
    }


def _dimension(model_path: Path) -> int:
    return int(json.loads((model_path / "config.json").read_text())["hidden_size"])


def load_onnx(model_path: Path, threads: int | None = None, quantized: bool = False,
              one_text_a_run: bool | None = None) -> GraphEncoder:
    """ONNX Runtime on the CPU: one intra-op thread per available core, sequential graph execution.
    The int8 graph runs one text at a time unless ``one_text_a_run=False`` (the batched way, kept
    for ``ragbot bench ingest`` to compare with).

    Two sessions share the graph file: one for bulk encoding, whose idle threads spin between
    batches (measured on the 2-core machine: int8 ingestion 41 -> 51 chunks/s), and one for single
    queries whose threads yield instead, so on a shared machine they do not steal the cores from
    Chroma, BM25 and other processes between questions (single-query p50 22 -> 16 ms under load).
    """
    import onnxruntime as ort

    graph = str(quantized_onnx_path(model_path) if quantized else onnx_path(model_path))

    def session(spin: bool):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or cpu_threads()
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        return ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])

    sessions: dict[bool, object] = {}
    lock = threading.Lock()  # one run at a time: intra-op threads already fill the cores

    def run(feeds: dict, bulk: bool = False) -> np.ndarray:
        with lock:
            if bulk not in sessions:
                sessions[bulk] = session(spin=bulk)
            return sessions[bulk].run(None, feeds)[0]

    alone = quantized if one_text_a_run is None else one_text_a_run
    return GraphEncoder(model_path, run, _dimension(model_path), one_text_a_run=alone)


def load_onnx_int8(model_path: Path, threads: int | None = None) -> GraphEncoder:
    """ONNX Runtime over the int8-quantized graph, one text a run (see ``GraphEncoder``)."""
    return load_onnx(model_path, threads, quantized=True)


def load_openvino(model_path: Path, threads: int | None = None) -> GraphEncoder:
    """OpenVINO on the CPU, reading the same exported ONNX graph (latency hint, one stream)."""
    try:
        import openvino as ov
    except ImportError:
        raise ConfigError("the openvino embedding backend needs the `openvino` package: pip install openvino") from None
    os.environ.setdefault("OPENVINO_TELEMETRY", "0")
    core = ov.Core()
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads or cpu_threads()}
    compiled = core.compile_model(core.read_model(str(onnx_path(model_path))), "CPU", config)
    request = compiled.create_infer_request()
    lock = threading.Lock()

    def run(feeds: dict, bulk: bool = False) -> np.ndarray:
        with lock:
            return np.array(request.infer(feeds)[0], dtype=np.float32, copy=True)

    return GraphEncoder(model_path, run, _dimension(model_path))


def load_torch(model_path: Path, threads: int | None = None):
    """sentence-transformers on PyTorch, from disk only."""
    from sentence_transformers import SentenceTransformer

    if threads:
        import torch

        torch.set_num_threads(threads)
    return SentenceTransformer(str(model_path), device="cpu", local_files_only=True)


LOADERS: dict[str, Callable] = {
    "torch": load_torch, "onnx": load_onnx, "onnx-int8": load_onnx_int8, "openvino": load_openvino,
}
# Backends whose vectors differ from the float model's, and the label of their vectors in the
# embedder fingerprint (a change re-embeds the index). "int8.2": each text quantized on its own
# (issue 33); the vectors of the batched "int8" moved with their batch (cosine down to 0.99).
QUANTIZED = {"onnx-int8": "int8.2"}


def load_encoder(model_path: Path, backend: str, threads: int | None = None):
    """An encoder with ``encode(texts, batch_size, normalize_embeddings, ...)`` for ``backend``."""
    if backend not in LOADERS:
        raise ConfigError(f"unknown embedding backend {backend!r}; known: {', '.join(LOADERS)}")
    return LOADERS[backend](Path(model_path), threads)
