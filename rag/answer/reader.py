"""The reader: a small extractive QA model that reads the retrieved passages.

For each passage it gives the best answer span (character offsets in the passage) and how sure it
is that the passage answers the question at all. It is the packaged all-MiniLM-L6-v2 fine-tuned on
87,377 SQuAD training questions with negatives (``python -m eval.train_reader``), shipped as an
int8 ONNX graph in ``rag/data/reader.onnx`` and run with onnxruntime; its tokenizer is the
embedding package's own, so nothing is downloaded.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..settings import DEFAULT_REFUSAL, check_refusal
from ..text import ENTRY_GAP, records

MAX_LENGTH = 384  # tokens of question and passage; a longer passage is read in overlapping windows
STRIDE = 128  # tokens two windows of one long passage share
MAX_ANSWER_TOKENS = 30
MAX_QUESTION_TOKENS = 64
PACKAGED = Path(__file__).resolve().parent.parent / "data" / "reader.onnx"


@dataclass(frozen=True)
class Reading:
    """What the reader found in one passage: ``text[start:end]`` is its best span."""

    passage: int  # index into the passages read
    start: int
    end: int
    span_score: float  # start + end logit of the span
    null_score: float  # start + end logit of "no answer here"
    answerable: float  # the answerability head's logit

    @property
    def margin(self) -> float:
        """How far the best span stands above "no answer" (SQuAD 2.0's null-score difference)."""
        return self.span_score - self.null_score


def _sigmoid(x: float) -> float:
    return float(1 / (1 + np.exp(-x)))


def best_span(start: np.ndarray, end: np.ndarray, allowed: np.ndarray,
              cells: np.ndarray | None = None) -> tuple[int, int, float]:
    """Token positions ``(i, j)`` with ``i <= j < i + MAX_ANSWER_TOKENS`` among ``allowed`` ones
    that maximise ``start[i] + end[j]``, and that sum; with ``cells`` (a table cell's number for
    each token), ``i`` and ``j`` in one cell."""
    idx = np.flatnonzero(allowed)
    s, e = start[idx], end[idx]
    pair = s[:, None] + e[None, :]
    gap = idx[None, :] - idx[:, None]
    pair[(gap < 0) | (gap >= MAX_ANSWER_TOKENS)] = -np.inf
    if cells is not None:
        pair[cells[idx][:, None] != cells[idx][None, :]] = -np.inf
    flat = int(np.argmax(pair))
    i, j = divmod(flat, len(idx))
    return int(idx[i]), int(idx[j]), float(pair[i, j])


class Reader:
    """The packaged reader (or one at ``path``), loaded on first use; thread-safe."""

    def __init__(self, path: str | Path | None = None, threads: int | None = None):
        self.path = Path(path) if path else PACKAGED
        self.threads = threads
        self._session = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._session is None:
                if not self.path.is_file():
                    raise ConfigError(f"reader model {self.path} is missing; train it with `python -m eval.train_reader`")
                import onnxruntime as ort

                options = ort.SessionOptions()
                if self.threads:
                    options.intra_op_num_threads = self.threads
                options.log_severity_level = 3
                self._tokenizer = tokenizer()
                self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        return self._session, self._tokenizer

    def read(self, question: str, texts: list[str]) -> list[Reading]:
        """One Reading per text, in order: its best window's (a long text is read in overlapping
        windows, and a table's rows each on its own: ``records``)."""
        if not texts:
            return []
        session, tok = self._load()
        windows = [(w, row) for i, text in enumerate(texts) for a, b, row in records(text)
                   for w in question_windows(tok, question, text[a:b], i, at=a)]
        best: dict[int, Reading] = {}
        for ((i, wid, _, offsets), row), (start, end, answerable) in zip(windows, _logits(session, [w for w, _ in windows])):
            allowed, cells = span_tokens(offsets, texts[i], len(wid), row)
            a, b, score = best_span(start, end, allowed, cells)
            reading = Reading(i, offsets[a][0], offsets[b][1], score, float(start[0] + end[0]), float(answerable))
            if i not in best or sureness(reading) > sureness(best[i]):  # as passages are compared (best_reading)
                best[i] = reading
        return [best[i] for i in range(len(texts))]


def _logits(session, windows: list) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Start and end logits over each window's tokens, and its answerability logit. Each window
    runs alone: the int8 graph quantizes its activations with one scale per input, so in a batch
    a passage's scores moved with the other passages beside it and with their padding (up to 0.59
    of an answerability logit on essay passages, 2026-12-06), and a table's short rows were padded to
    a prose window's length (104 rows beside one prose window took 34 times as long as five prose
    windows)."""
    out = []
    for _, wid, wtype, _ in windows:
        ids = np.array([wid], dtype=np.int64)
        start, end, answerable = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                                    "token_type_ids": np.array([wtype], dtype=np.int64)})
        out.append((start[0], end[0], float(answerable[0])))
    return out


def span_tokens(offsets: list, text: str, width: int, row: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Which of a window's ``width`` tokens an answer span may use (the passage's, but not the bars
    between a table row's cells), and each token's cell number when the window is a table row
    (``row``) that holds bars (a bar in prose, "cat x | grep y", is a token like any other), or
    when it holds definition-list entries: an entry's term and its description are two cells, so
    a short answer is the term ("-r, --recursive") or a part of the description, never both."""
    pad = [False] * (width - len(offsets))
    bars = np.array([row and o is not None and text[o[0]:o[1]] == "|" for o in offsets] + pad)
    allowed = np.array([o is not None for o in offsets] + pad) & ~bars
    if bars.any():
        return allowed, np.cumsum(bars)
    bounds = entry_bounds(text)
    if not bounds:
        return allowed, None
    starts = np.array([o[0] if o is not None else -1 for o in offsets] + [-1] * len(pad))
    return allowed, np.searchsorted(np.asarray(bounds), starts, side="right")


# An entry as ingest/structure.py writes it: at a line's start, a term (an option, a short name: no
# sentence in it) and ENTRY_GAP before its description.
_ENTRY = re.compile(rf"^(?=\S)(?:(?!\.\s)[^\n]){{1,60}}?(?<=\S){ENTRY_GAP}(?=\S)", re.M)
_TERM_WORDS = 8


def entry_bounds(text: str) -> list[int]:
    """Where each entry's term and each description begin in ``text`` (sorted offsets), none
    when it holds no entry."""
    out: list[int] = []
    for m in _ENTRY.finditer(text):
        if len(m.group().split()) <= _TERM_WORDS:
            out += [m.start(), m.end()]
    return out


def question_windows(tok, question: str, text: str, index: int = 0, max_length: int = MAX_LENGTH, at: int = 0):
    """``(index, ids, types, offsets)`` of each window of ``[CLS] question [SEP] text [SEP]``, the
    question cut to MAX_QUESTION_TOKENS and each window to ``max_length`` tokens; offsets are
    character spans in ``text`` for its tokens (moved by ``at``: ``text`` is a part of a passage
    that starts there), None for the others."""
    enc = tok.encode(question, text)
    q = [t for t, s in zip(enc.ids, enc.sequence_ids) if s == 0][:MAX_QUESTION_TOKENS]
    p = [(t, (o[0] + at, o[1] + at)) for t, s, o in zip(enc.ids, enc.sequence_ids, enc.offsets) if s == 1] \
        or [(tok.token_to_id("[SEP]"), (at, at))]
    room = max_length - len(q) - 3
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    out, first = [], 0
    while True:
        part = p[first : first + room]
        ids = [cls, *q, sep, *(t for t, _ in part), sep]
        types = [0] * (len(q) + 2) + [1] * (len(part) + 1)
        offsets = [None] * (len(q) + 2) + [o for _, o in part] + [None]
        out.append((index, ids, types, offsets))
        if first + room >= len(p):
            return out
        first += room - STRIDE


@lru_cache(maxsize=1)
def tokenizer():
    """The embedding package's own tokenizer (tokenizer.json), without padding or truncation."""
    from tokenizers import Tokenizer

    from ..embeddings import resolve_model_path

    tok = Tokenizer.from_file(str(resolve_model_path("all-MiniLM-L6-v2") / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok


@lru_cache(maxsize=4)
def load_reader(path: str | None = None, threads: int | None = None) -> Reader:
    """One Reader per model file and thread count in a process."""
    return Reader(path, threads)


# --- deciding with the reader ---------------------------------------------------------------

READER_FEATURES = ("reader_answerable", "reader_margin", "reader_first_answerable", "reader_first_margin")


def reading_features(readings: list[Reading], evidence_score: float | None = None) -> dict[str, float]:
    """What the readings say about answerability: the best passage's answerability and span margin,
    and the first (best-retrieved) passage's; with the evidence gate's probability, its logit too."""
    feats = {f: -10.0 for f in READER_FEATURES}
    if readings:
        feats = {
            "reader_answerable": max(r.answerable for r in readings),
            "reader_margin": max(r.margin for r in readings),
            "reader_first_answerable": readings[0].answerable,
            "reader_first_margin": readings[0].margin,
        }
    if evidence_score is not None:
        p = min(max(evidence_score, 1e-6), 1 - 1e-6)
        feats["gate_logit"] = float(np.log(p / (1 - p)))
    return feats


def best_reading(readings: list[Reading]) -> Reading | None:
    """The reading whose span the answer leads with: the most answerable passage's."""
    return max(readings, key=lambda r: (sureness(r), -r.passage), default=None)


def sureness(reading: Reading) -> float:
    """How sure the reader is that a reading answers: its answerability logit plus its span margin.
    The windows and table rows of one passage are compared by it, and the passages too."""
    return reading.answerable + reading.margin


@dataclass(frozen=True)
class ReaderGate:
    """A logistic model over the reader's features (and any evidence features it was fitted with),
    the answer threshold, and the span margin a short answer needs; fitted on the ``dev`` splits
    (``python -m eval.fit_reader``) and shipped in ``rag/data/reader.json``.

    ``threshold`` is the balanced level's; ``levels`` holds every refusal level's aim (the share of
    answerable questions it refuses on the questions it was fitted on) and threshold; ``confidence``
    is ``(a, b)`` of the Platt scaling that turns the score into a probability of answerable
    (``sigmoid(a * logit(score) + b)``). ``source`` says whose decision it is: ``shipped`` or
    ``collection`` (fitted by ``ragbot eval --calibrate``)."""

    weights: dict
    bias: float
    threshold: float
    span_threshold: float
    passages: int  # how many of the retrieved passages the reader reads
    info: dict
    levels: dict = field(default_factory=dict)  # level -> {"aim": share, "threshold": score}
    confidence: tuple[float, float] | None = None
    source: str = "shipped"

    def score(self, feats: dict[str, float]) -> float:
        z = self.bias + sum(w * feats.get(f, 0.0) for f, w in self.weights.items())
        return float(1 / (1 + np.exp(-np.clip(z, -50, 50))))

    def threshold_for(self, level: str = DEFAULT_REFUSAL) -> float:
        """The score a question needs to be answered at refusal ``level``."""
        check_refusal(level)
        if level in self.levels:
            return float(self.levels[level]["threshold"])
        if level == DEFAULT_REFUSAL:
            return self.threshold
        raise ConfigError(f"the reader's decision has no {level!r} refusal level (fitted before levels existed); "
                          "refit it with `python -m eval.fit_reader`")

    def answerable(self, feats: dict[str, float], level: str = DEFAULT_REFUSAL) -> tuple[bool, float]:
        s = self.score(feats)
        return s >= self.threshold_for(level), s

    def probability(self, score: float) -> float | None:
        """The calibrated probability that a question with this score is answerable (None when the
        decision carries no calibration)."""
        if self.confidence is None:
            return None
        a, b = self.confidence
        return platt(score, a, b)

    def to_dict(self) -> dict:
        d = {"weights": self.weights, "bias": self.bias, "threshold": self.threshold,
             "span_threshold": self.span_threshold, "passages": self.passages, **self.info}
        if self.levels:
            d["levels"] = self.levels
        if self.confidence is not None:
            d["confidence"] = {**d.get("confidence", {}), "a": self.confidence[0], "b": self.confidence[1]}
        return d


def logit(p: float | np.ndarray) -> float | np.ndarray:
    """log(p / (1 - p)), with p kept off 0 and 1."""
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def platt(score: float, a: float, b: float) -> float:
    """Platt scaling of a decision score: ``sigmoid(a * logit(score) + b)``."""
    return float(1 / (1 + np.exp(-np.clip(a * logit(score) + b, -50, 50))))


def load_reader_gate(path: str | Path | None = None) -> ReaderGate:
    """The fitted reader gate from ``path`` or the packaged ``rag/data/reader.json``."""
    return _load_gate(str(path) if path else None)


@lru_cache(maxsize=4)
def _load_gate(path: str | None) -> ReaderGate:
    from ..packaged import read_fitted

    d, info = read_fitted(path, "reader.json", ("weights", "bias", "threshold", "span_threshold", "passages"))
    levels = info.pop("levels", None) or {}
    calibration = info.get("confidence") or {}
    confidence = (float(calibration["a"]), float(calibration["b"])) if "a" in calibration and "b" in calibration else None
    return ReaderGate(dict(d["weights"]), float(d["bias"]), float(d["threshold"]), float(d["span_threshold"]),
                      int(d["passages"]), info, levels, confidence)
