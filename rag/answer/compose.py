"""Composing an answer: sentences joined with their [n] markers, one citation per distinct quote; the LLM's passages."""
from __future__ import annotations

from ..origin import shift_origin
from ..types import Citation, Passage, ScoredSentence


def prompt_passages(scored: list[ScoredSentence], passages: list[Passage], limit: int = 3, per_passage: int = 3) -> str:
    """The passages as the model sees them: the ``limit`` best, each cut to its most relevant
    sentences in reading order. A short prompt is what makes a small CPU model answer quickly, and
    gives it less to wander off with. ``[n]`` keeps the passage's number, so citations map back."""
    best: dict[int, list[ScoredSentence]] = {}
    for s in scored:
        if s.passage in best or len(best) < limit:
            picks = best.setdefault(s.passage, [])
            if len(picks) < per_passage:
                picks.append(s)
    blocks = []
    for pi in sorted(best):
        text = " ".join(" ".join(s.text.split()) for s in sorted(best[pi], key=lambda s: s.start))
        blocks.append(f"[{pi + 1}] {text}")
    return "\n\n".join(blocks)


def _citation(n: int, p: Passage, qs: int, qe: int) -> Citation:
    start, end = p.source_span(qs, qe)  # the quote as read; its span, the source lines it was read from
    return Citation(
        n=n,
        chunk_id=p.chunk_id,
        source=p.source,
        section=p.section,
        quote=p.text[qs:qe],
        start=start,
        end=end,
        score=p.score,
        passage=p.text,
        page=p.page_at(start),
        page_label=p.page_label_at(start),
        origin=shift_origin(p.origin, qs, qe, p.start) if p.origin else (),
    )


def compose(chosen: list[ScoredSentence], passages: list[Passage], lead: ScoredSentence | None = None) -> tuple[str, list[Citation]]:
    """An extractive answer: the chosen sentences in reading order, each with its own [n]; ``lead``
    (the sentence or table row that holds the short answer), when chosen, comes first as [1]."""
    chosen = sorted(chosen, key=lambda s: (passages[s.passage].source, passages[s.passage].start + s.start))
    if lead is not None:
        at = (lead.passage, lead.start)
        chosen = sorted(chosen, key=lambda s: (s.passage, s.start) != at)  # stable: the rest keep reading order
    return compose_claims([(s.text, s.passage, s.start, s.end) for s in chosen], passages)


def compose_claims(claims: list[tuple[str, int, int, int]], passages: list[Passage]) -> tuple[str, list[Citation]]:
    """Join sentences, numbering one citation per distinct supporting quote."""
    cites: list[Citation] = []
    numbers: dict[tuple[int, int, int], int] = {}
    parts = []
    for sentence, pi, qs, qe in claims:
        key = (pi, qs, qe)
        if key not in numbers:
            numbers[key] = len(cites) + 1
            cites.append(_citation(numbers[key], passages[pi], qs, qe))
        body = sentence.strip()
        if "\n" in body:  # a quoted list keeps its lines
            parts.append(f"{body}\n[{numbers[key]}]")
        else:
            if body and body[-1] not in ".!?":
                body += "."
            parts.append(f"{body[:-1]} [{numbers[key]}]{body[-1]}" if body[-1] in ".!?" else f"{body} [{numbers[key]}]")
    return " ".join(parts), cites
