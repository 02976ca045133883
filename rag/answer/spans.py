"""Short answers: the span of a quoted sentence that answers a factoid question ("Joseph Nye", "1905").

Every run of one to six words of the sentence is a candidate, described by general features (its
length, capitals and digits, how far it stands from the words it shares with the question,
punctuation around it, which of the question's first words are among the learned cue words);
gradient-boosted trees fitted on the SQuAD 2.0 ``dev`` questions (``python -m eval.train_spans``)
score them. No English wording rule decides what a question asks for: the trees learned from data
which cues go with which kinds of span. A span is shown only when the model is confident.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..packaged import read_fitted
from ..text import STOPWORDS, terms
from ..types import Citation, ShortAnswer
from .trees import TreeEnsemble

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-.,%$]*[A-Za-z0-9%$]|[A-Za-z0-9]")
_YEAR = re.compile(r"1\d{3}|20\d{2}")
MAX_WORDS = 6
CUE_WORDS = 3  # the question's first words, where its cue ("when", "how many", "who") stands
SHAPES = 4  # shape features crossed with the first cue words (capitals, share of capitals, digits, year)
CROSSED_CUES = 12


@dataclass(frozen=True)
class Span:
    """``sentence[start:end]`` answers the question with probability ``score``."""

    start: int
    end: int
    score: float


def _words(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def first_words(question: str) -> list[str]:
    """The question's first words, lower case: where learned cue words are looked for."""
    return [w.lower() for w, _, _ in _words(question)[:CUE_WORDS]]


def _shape(toks: list[str]) -> list[float]:
    n = len(toks)
    return [
        float(any(t[0].isupper() for t in toks)),
        sum(t[0].isupper() for t in toks) / n,
        float(any(ch.isdigit() for t in toks for ch in t)),
        float(any(_YEAR.fullmatch(t) for t in toks)),
    ]


def _context(sentence: str, ws: list, i: int, j: int, hits: list[int]) -> list[float]:
    """Where the run ``ws[i:j]`` stands: distances to the question's words, punctuation around it."""
    d_left = min([i - p for p in hits if p < i] or [99])
    d_right = min([p - (j - 1) for p in hits if p >= j] or [99])
    before = sentence[ws[i - 1][2] : ws[i][1]] if i > 0 else ""
    after = sentence[ws[j - 1][2] : ws[j][1]] if j < len(ws) else ""
    return [
        float(i == 0), float(j == len(ws)), min(d_left, 20), min(d_right, 20), len(hits) / max(1, len(ws)),
        float("," in before), float("," in after), float("(" in before),
        float(ws[i - 1][0].lower() in STOPWORDS) if i > 0 else 0.0,
    ]


def candidates(question: str, sentence: str, cues: list[str]) -> list[tuple[int, int, list[float]]]:
    """Every run of up to MAX_WORDS words of ``sentence`` that neither opens nor closes on a stopword,
    with its features."""
    q_terms = set(terms(question))
    lead = first_words(question)
    cue = [float(c in lead) for c in cues]
    ws = _words(sentence)
    hit = [bool(set(terms(w)) & q_terms) for w, _, _ in ws]
    hits = [i for i, h in enumerate(hit) if h]
    out = []
    for i in range(len(ws)):
        for j in range(i + 1, min(len(ws), i + MAX_WORDS) + 1):
            toks = [w for w, _, _ in ws[i:j]]
            low = [t.lower() for t in toks]
            if (low[0] in STOPWORDS and j - i > 1) or low[-1] in STOPWORDS:
                continue
            n = j - i
            shape = _shape(toks)
            feats = [n, sum(hit[i:j]) / n, *shape, *_context(sentence, ws, i, j, hits)]
            feats += [float(low[0] in STOPWORDS), i / max(1, len(ws)), float(any(hit[i:j]))]
            feats += cue + [s * c for s in shape for c in cue[:CROSSED_CUES]]
            out.append((ws[i][1], ws[j - 1][2], feats))
    return out


@dataclass(frozen=True)
class SpanFinder:
    """The fitted span model, its cue words and the confidence a span needs to be shown."""

    model: TreeEnsemble
    cues: tuple[str, ...]
    threshold: float
    info: dict

    def scores(self, question: str, sentence: str) -> list[Span]:
        """Every candidate span of ``sentence`` with its probability, best first."""
        cands = candidates(question, sentence, list(self.cues))
        if not cands:
            return []
        p = self.model.probability(np.array([f for _, _, f in cands]))
        return sorted((Span(a, b, float(s)) for (a, b, _), s in zip(cands, p)), key=lambda s: -s.score)

    def find(self, question: str, sentence: str) -> Span | None:
        """The best span when it is confident enough, else None."""
        best = self.scores(question, sentence)[:1]
        return best[0] if best and best[0].score >= self.threshold else None

    def to_dict(self) -> dict:
        return {"cues": list(self.cues), "threshold": self.threshold, **self.info, "model": self.model.to_dict()}


class NoSpans:
    """The null span finder: no short answers."""

    def find(self, question: str, sentence: str) -> Span | None:
        return None


def load_spans(path: str | Path | None = None) -> SpanFinder:
    """The fitted span model from ``path`` or the packaged ``rag/data/span.json``."""
    return _load(str(path) if path else None)


@lru_cache(maxsize=4)
def _load(path: str | None) -> SpanFinder:
    d, info = read_fitted(path, "span.json", ("cues", "threshold", "model"))
    return SpanFinder(TreeEnsemble.from_dict(d["model"]), tuple(d["cues"]), float(d["threshold"]), info)


def short_answer(finder, question: str, citations: list[Citation], lead: list[str] | None = None) -> ShortAnswer | None:
    """The most confident span among the quotes an answer cites (only those in ``lead``, the
    answer's best sentences, when given), as a ShortAnswer of that quote."""
    best: tuple[Span, Citation] | None = None
    for cite in citations:
        if lead is not None and cite.quote not in lead:
            continue
        span = finder.find(question, cite.quote)
        if span is not None and (best is None or span.score > best[0].score):
            best = (span, cite)
    if best is None:
        return None
    span, cite = best
    text = cite.quote[span.start : span.end]
    return ShortAnswer(text, cite.n, *cite.source_span(span.start, span.end), round(span.score, 4))


def lead_with(short: ShortAnswer | None, text: str) -> str:
    """The answer text led by its short answer: "Joseph Nye [1]. Soft power, a term coined by ...".
    A span of several lines (list items) keeps its lines, each with its own citation, so that every
    line the answer shows says where it comes from."""
    if not short:
        return text
    lines = [line.strip() for line in short.text.splitlines() if line.strip()]
    if len(lines) > 1:
        cited = (f"{line[:-1]} [{short.n}]{line[-1]}" if line[-1] in ".!?:;" else f"{line} [{short.n}]" for line in lines)
        return "\n".join(cited) + f"\n\n{text}"
    return f"{short.text} [{short.n}]. {text}"
