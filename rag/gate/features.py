"""The gate's evidence features: how well the retrieved passages and their best sentences meet the question."""
from __future__ import annotations

import re

from ..wording import WordingRules
from ..text import name_key, name_words, numbers, proper_names, same_name, terms
from ..types import Passage, ScoredSentence

FEATURES = ("best_similarity", "best_overlap", "top_passage", "coverage", "answer_type", "names_found", "known_terms", "names_in_best")


def index_terms(text: str) -> list[str]:
    """Stemmed content words split as the lexical index splits them ("real-world" is 'real' and
    'world', "essay's" is 'essay'), so they can be looked up in its vocabulary."""
    return terms(" ".join(re.findall(r"[A-Za-z0-9]{2,}", text)))


def _share_found(names: set[str], words: set[str]) -> float:
    """The share of ``names`` that ``words`` hold (1 when there are none to find)."""
    return sum(1 for n in names if any(same_name(n, w) for w in words)) / len(names) if names else 1.0


def features(
    question: str,
    passages: list[Passage],
    scored: list[ScoredSentence],
    vocabulary: set | dict | None = None,
    own: str | None = None,
    asked: str | None = None,
    *,
    wording: WordingRules,
) -> dict[str, float]:
    """Evidence features for the gate, each in [0, 1].

    ``own`` is the user's own question (before condensing): its words that occur nowhere in the
    indexed documents (``vocabulary``) are a strong sign that the documents cannot answer it.
    """
    if not passages or not scored:
        return {f: 0.0 for f in FEATURES}
    vocabulary = vocabulary if vocabulary else None
    best = scored[0]
    q_terms = set(terms(question))
    top_text = " ".join(p.section + " " + p.text for p in passages[:3])
    p_terms = set(terms(top_text))
    coverage = len(q_terms & p_terms) / len(q_terms) if q_terms else 0.0
    specific = {name_key(n) for n in proper_names(question)} | numbers(question)
    named = {name_key(n) for n in proper_names(asked or question)} | numbers(asked or question)
    best_text = " ".join(s.text for s in scored[:3])
    answer_type = max(wording.answer_type_met(own or question, s.text) for s in scored[:5])
    own_terms = set(index_terms(own or question)) - wording.question_frame
    known = sum(1 for t in own_terms if t in vocabulary) / len(own_terms) if vocabulary is not None and own_terms else 1.0
    return {
        "best_similarity": max(0.0, best.similarity),
        "best_overlap": min(1.0, best.overlap),
        "top_passage": max(0.0, passages[0].score),
        "coverage": coverage,
        "answer_type": answer_type,
        "names_found": _share_found(specific, name_words(top_text)),
        "names_in_best": _share_found(named, name_words(best_text)),
        "known_terms": known,
    }
