"""Check every answer sentence against the passage it cites; re-link or drop what the passage does not say."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..text import BULLET, LEADING_CITATIONS, numbers, parse_citations, proper_names, segment, sentence_spans, terms
from ..types import Passage
from .scoring import encode_cached

MIN_TERM_RECALL = 0.7  # share of the sentence's content words the passage must contain
MIN_SIMILARITY = 0.55  # cosine between the sentence and its best-matching passage sentence


@dataclass(frozen=True)
class Support:
    """A sentence of the answer, and where it is supported."""

    sentence: str  # without markers
    passage: int | None  # index into passages; None when unsupported
    quote_start: int = 0  # offsets of the supporting sentence within the passage text
    quote_end: int = 0
    term_recall: float = 0.0
    similarity: float = 0.0
    relinked: bool = False


def split_answer(text: str) -> list[tuple[str, list[int]]]:
    """Answer sentences with the passage numbers each cites; a marker before the next sentence belongs to this one."""
    pieces = []
    for line in text.splitlines():  # models write lists one item a line: each item is a claim
        line = BULLET.sub("", " ".join(line.split()))
        pieces.extend(line[a:b] for a, b in segment(line, 0, len(line)) if line.strip())
    merged: list[str] = []
    for piece in pieces:
        lead = LEADING_CITATIONS.match(piece)
        if lead and merged:  # "Claim. [1] Next claim" : the marker closes the claim before it
            merged[-1] += " " + lead.group(1)
            piece = piece[lead.end() :]
        if piece.strip(" ."):
            merged.append(piece)
    return [parse_citations(p) for p in merged if p.strip()]


def _hard_facts_present(sentence: str, passage_text: str) -> bool:
    low = passage_text.lower()
    if any(n not in passage_text for n in numbers(sentence)):
        return False
    return all(name.lower() in low for name in proper_names(sentence))


def check(sentence: str, passage: Passage, embeddings, svec: np.ndarray | None = None) -> Support:
    """How well one passage supports one sentence."""
    s_terms = set(terms(sentence))
    p_terms = set(terms(passage.section + " " + passage.text))
    recall = len(s_terms & p_terms) / len(s_terms) if s_terms else 0.0
    spans = sentence_spans(passage.text) or ((0, len(passage.text)),)
    texts = [passage.text[a:b] for a, b in spans]
    vecs = encode_cached(embeddings, texts)
    if svec is None:
        svec = embeddings.encode([sentence])[0]
    sims = vecs @ svec
    best = int(np.argmax(sims))
    ok = recall >= MIN_TERM_RECALL and float(sims[best]) >= MIN_SIMILARITY and _hard_facts_present(sentence, passage.text)
    return Support(sentence, None, spans[best][0], spans[best][1], recall, float(sims[best])) if not ok else Support(
        sentence, -1, spans[best][0], spans[best][1], recall, float(sims[best])
    )


def verify(answer_text: str, passages: list[Passage], embeddings) -> list[Support]:
    """Each sentence of a generated answer, linked to a passage that supports it (or to none)."""
    results: list[Support] = []
    parts = split_answer(answer_text)
    if not parts:
        return results
    svecs = [embeddings.encode([p[0]])[0] for p in parts]  # singles: a vector must not depend on its batch-mates
    for (sentence, cited), svec in zip(parts, svecs):
        if not sentence or not terms(sentence):
            continue
        found = None
        order = [n - 1 for n in cited if 1 <= n <= len(passages)]
        others = [i for i in range(len(passages)) if i not in order]
        for rank, idx in enumerate(order + others):
            sup = check(sentence, passages[idx], embeddings, svec)
            if sup.passage is not None:
                found = Support(sentence, idx, sup.quote_start, sup.quote_end, sup.term_recall, sup.similarity, relinked=idx not in order)
                break
        results.append(found or Support(sentence, None))
    return results
