"""Scoring: every sentence of the retrieved passages against the question (embedding cosine and term overlap)."""
from __future__ import annotations

import numpy as np

from ..text import sentence_spans, terms
from ..types import Passage, ScoredSentence

# Fitted on the dev split of eval/golden/military-diplomacy.jsonl (answer pass rate), see README.
W_SIM, W_OVERLAP, W_RANK = 0.4, 0.6, 0.0


def score_sentences(
    question: str, passages: list[Passage], embeddings, context: str = "", qvec: np.ndarray | None = None
) -> list[ScoredSentence]:
    """Every sentence of the passages, scored against the question, best first.

    ``context`` (from the conversation) adds terms at a lower weight, so a follow-up's own words lead.
    """
    units = []
    for pi, p in enumerate(passages):
        for a, b in sentence_spans(p.text):
            units.append((pi, a, b, p.text[a:b]))
    if not units:
        return []
    own = set(terms(question))
    extra = set(terms(context)) - own
    # The context's terms weigh at most half as much, together, as the question's own: a long
    # earlier answer must not outvote what the follow-up asks ("which organization leads them?").
    w_extra = 0.5 * min(1.0, len(own) / len(extra)) if own and extra else 0.5
    weight_total = len(own) + w_extra * len(extra) or 1.0
    if qvec is None:
        qvec = embeddings.encode([question])[0]
    vecs = encode_cached(embeddings, [u[3] for u in units])
    sims = vecs @ qvec
    scored = []
    for (pi, a, b, text), sim in zip(units, sims):
        st = set(terms(text))
        hit = len(own & st) + w_extra * len(extra & st)
        overlap = hit / weight_total
        score = W_SIM * float(sim) + W_OVERLAP * overlap - W_RANK * pi
        scored.append(ScoredSentence(pi, a, b, text, float(sim), overlap, score))
    scored.sort(key=lambda s: -s.score)
    return scored


_cache: dict[tuple[str, str], np.ndarray] = {}
_CACHE_MAX = 50_000


def encode_cached(embeddings, texts: list[str]) -> np.ndarray:
    """Sentence vectors, cached: retrieved passages repeat across questions."""
    key = getattr(embeddings, "id", type(embeddings).__name__)
    todo = [t for t in dict.fromkeys(texts) if (key, t) not in _cache]
    if todo:
        if len(_cache) + len(todo) > _CACHE_MAX:
            _cache.clear()
        # One text at a time: an int8 encoder quantizes a batch's activations together, so a vector
        # would depend on its batch-mates, and answers on which questions came before. Singles are
        # also no slower for sentences (no padding to the longest).
        for t in todo:
            _cache[(key, t)] = embeddings.encode([t])[0]
    return np.stack([_cache[(key, t)] for t in texts])
