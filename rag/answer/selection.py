"""Selection: the sentences of the retrieved passages that make an extractive answer."""
from __future__ import annotations

import re
from dataclasses import replace

from ..text import CITATION, same_stem, sentence_spans, terms
from ..types import Passage, ScoredSentence
from ..wording import WordingRules


# A runner-up loses this much score per share of its words an already-quoted sentence holds
# (maximal marginal relevance, on words). On dev it changed no verdict; it drops near-repeats.
REDUNDANCY = 0.1
FIT_RATIO = 0.5  # a sentence with the kind of thing asked for leads if it scores at least this share of the best
TOPIC_WORDS = 12  # a sentence this short that opens a paragraph announces it ("X warrants scrutiny.")


def select(
    scored: list[ScoredSentence],
    passages: list[Passage],
    max_sentences: int = 4,
    ratio: float = 0.85,
    extend: int = 2,
    question: str = "",
    fits=None,
    *,
    wording: WordingRules,
) -> list[ScoredSentence]:
    """The best sentence and close runners-up that say something else, each with the sentences it
    needs: the one a pronoun at its start points back to, and those that continue it (up to
    ``extend``; a short opening sentence always gets the next one, which says what it announces).
    For a comparison, the best sentence about each side comes first, so both sides are answered.
    ``fits(text)`` tells whether a sentence holds the kind of thing asked for (a year, a number, a
    name the question lacks): the best sentence that does comes first."""
    if not scored:
        return []
    best = scored[0].score
    side_picks = _side_picks(scored, passages, wording.aspects(question))
    if fits is not None and not side_picks and not fits(scored[0].text):
        side_picks = [s for s in scored if s.score >= FIT_RATIO * best and fits(s.text)][:1]
    runners = [s for s in scored if s not in side_picks and s.score >= ratio * best]
    quote = _Quote(passages, wording)
    anchors = 0
    while anchors < max_sentences and (side_picks or runners):
        s = side_picks.pop(0) if side_picks else _next_runner(runners, quote.chosen)
        if not quote.free(s.passage, s.start, s.end):
            continue  # the same sentence in an overlapping chunk, or already quoted
        quote.anchor(s, extend)
        anchors += 1
    return quote.chosen


def _next_runner(runners: list[ScoredSentence], chosen: list[ScoredSentence]) -> ScoredSentence:
    """Close runners-up in order of score, less what they repeat of the sentences already quoted:
    four ways of saying "military diplomacy shapes foreign policy" answer nothing that one does not."""
    quoted = [set(terms(c.text)) for c in chosen]
    s = max(runners, key=lambda r: r.score - REDUNDANCY * _repeats(set(terms(r.text)), quoted))
    runners.remove(s)
    return s


class _Quote:
    """The sentences an answer quotes so far, and the spans of the source files they cover."""

    def __init__(self, passages: list[Passage], wording: WordingRules):
        self.passages, self.wording = passages, wording
        self.chosen: list[ScoredSentence] = []
        self.taken: list[tuple[str, int, int]] = []

    def free(self, pi: int, a: int, b: int) -> bool:
        span = _abs(self.passages[pi], a, b)
        return not any(_overlaps(span, o) for o in self.taken)

    def take(self, s: ScoredSentence, pi: int, a: int, b: int) -> None:
        """Quote ``passages[pi].text[a:b]`` on behalf of ``s`` (with its scores)."""
        self.chosen.append(ScoredSentence(pi, a, b, self.passages[pi].text[a:b], s.similarity, s.overlap, s.score))
        self.taken.append(_abs(self.passages[pi], a, b))

    def anchor(self, s: ScoredSentence, extend: int) -> None:
        """Quote ``s`` with the sentence a pronoun at its start points back to, and those that continue it."""
        text = self.passages[s.passage].text
        spans = sentence_spans(text)
        before = [sp for sp in spans if sp[1] <= s.start]
        if (self.wording.leans_back(s.text) and before and "\n" not in text[before[-1][1] : s.start]
                and self.free(s.passage, *before[-1])):
            self.take(s, s.passage, *before[-1])
        self.chosen.append(s)
        self.taken.append(_abs(self.passages[s.passage], s.start, s.end))
        opens_paragraph = not before or "\n" in text[before[-1][1] : s.start]
        topic = opens_paragraph and "\n" not in s.text and len(s.text.split()) <= TOPIC_WORDS
        for i, (a, b) in enumerate([sp for sp in spans if sp[0] >= s.end][:extend]):
            announced = topic and i == 0 and "\n" not in text[s.end : a]
            if not (announced or self.wording.continues(text[a:b])) or not self.free(s.passage, a, b):
                break
            self.take(s, s.passage, a, b)


def _repeats(words: set[str], quoted: list[set[str]]) -> float:
    """The largest share of ``words`` that one already-quoted sentence holds."""
    return max((len(words & q) / len(words) for q in quoted if words), default=0.0)


def _side_picks(scored: list[ScoredSentence], passages: list[Passage], sides: list[set[str]]) -> list[ScoredSentence]:
    """For each side of a comparison, its best sentence that names it and not the other side.

    A side is told by its most specific term found in the passages (the one in fewest sentences):
    in "bilateral engagements ... multilateral ones", 'engagements' is shared, only 'bilateral' tells.
    A term in most sentences tells nothing, so a side named only by such terms has no marker.
    """
    if not sides:
        return []
    term_sets = [set(terms(s.text)) for s in scored]

    def marker(side: set[str]) -> set[str]:
        counts = {t: sum(any(same_stem(t, x) for x in ts) for ts in term_sets) for t in side}
        found = [t for t in side if 0 < counts[t] <= len(term_sets) / 2]
        return {min(found, key=lambda t: (counts[t], t))} if found else set()

    markers = [marker(side) for side in sides]
    picks: list[ScoredSentence] = []
    for i, side in enumerate(sides):
        other = markers[1 - i]
        for s, ts in zip(scored, term_sets):
            about = ts | set(terms(passages[s.passage].section))
            if side & about and not any(same_stem(m, t) for m in other for t in ts) and s not in picks:
                picks.append(s)
                break
    return picks


def _abs(p: Passage, a: int, b: int) -> tuple[str, int, int]:
    return (p.source, *p.source_span(a, b))


def _overlaps(a: tuple[str, int, int], b: tuple[str, int, int]) -> bool:
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]


SECTION_ITEMS = 6  # paragraphs quoted at most for a list that runs through a section


def opens_section(s: ScoredSentence, passages: list[Passage]) -> bool:
    """Whether the sentence is the first of its section: an overview that the section's
    paragraphs then take in turn."""
    p = passages[s.passage]
    if not p.section:
        return False
    first = sentence_spans(p.text)[:1]
    return bool(first) and first[0][0] == s.start and p.text[: s.start].strip() == p.section.strip()


def section_leads(section: list[Passage], index: list[int], wording: WordingRules) -> list[ScoredSentence]:
    """One section's paragraphs, each by its opening sentence and the ones it needs (as ``select``
    takes them), in reading order up to a closing item ("Lastly, ..."). ``index[i]`` is the number
    of ``section[i]`` in the passage list the answer cites."""
    chosen: list[ScoredSentence] = []
    seen: list[tuple[str, int, int]] = []
    items = 0
    for i, p in enumerate(section):
        spans = sentence_spans(p.text)
        for j, (a, b) in enumerate(spans):
            opens = j == 0 or "\n" in p.text[spans[j - 1][1] : a]
            span = _abs(p, a, b)
            if not opens or any(_overlaps(span, o) for o in seen) or p.text[a:b].startswith(("-", "*", "•")):
                continue
            lead = p.text[a:b]
            first = items == 0
            chosen.append(ScoredSentence(index[i], a, b, lead, 0.0, 0.0, 0.0))
            seen.append(span)
            items += 1
            # The overview's next sentence starts the list; others bring what continues them.
            for k, (c, d) in enumerate(spans[j + 1 : j + 1 + 2]):
                if "\n" in p.text[b if k == 0 else spans[j + k][1] : c]:
                    break
                short = k == 0 and len(lead.split()) <= TOPIC_WORDS
                if not (first and k == 0 or short or wording.continues(p.text[c:d])):
                    break
                chosen.append(ScoredSentence(index[i], c, d, p.text[c:d], 0.0, 0.0, 0.0))
                seen.append(_abs(p, c, d))
            if wording.closes_list(lead) or items >= SECTION_ITEMS:
                return chosen
    return chosen


def _norm(text: str) -> str:
    return " ".join(text.replace("’", "'").split()).lower()


def follow_on(scored: list[ScoredSentence], passages: list[Passage], said: str) -> list[ScoredSentence]:
    """After a follow-up ("What can that lead to?"), the sentence that comes right after one the
    last answer quoted ranks with the best: it is where the text goes on from what was said."""
    if not scored or not said:
        return scored
    said_n = _norm(CITATION.sub("", said))  # "states [1]." is "states."
    nexts = set()
    for s in scored:
        if len(s.text) >= 30 and _norm(s.text) in said_n:
            text = passages[s.passage].text
            after = [sp for sp in sentence_spans(text) if sp[0] >= s.end][:1]
            if after and "\n" not in text[s.end : after[0][0]]:
                nexts.add((s.passage, after[0][0]))
    if not nexts:
        return scored
    best = scored[0].score
    out = [replace(s, score=max(s.score, best)) if (s.passage, s.start) in nexts else s for s in scored]
    return sorted(out, key=lambda s: -s.score)


def referenced_sections(question: str, sections: list[tuple[str, str]], wording: WordingRules) -> list[tuple[str, str]]:
    """Every section the question points at by its heading, in the order it names them: "compare
    the foreign-policy section with the soft-power section" names two. A section named by what it
    explains ("the section that explains what military diplomacy is") is the one whose heading
    holds those words and fewest others."""
    out: list[tuple[str, str]] = []
    matches = wording.named_sections(question) if sections else []
    heads = {key: set(terms(" ".join(re.findall(r"[A-Za-z0-9]{2,}", key[1])))) for key in sections} if matches else {}
    for words, by_content in matches:
        named = set(terms(" ".join(re.findall(r"[A-Za-z0-9]{2,}", words))))
        if not named:
            continue
        found = [key for key, ts in heads.items() if all(any(same_stem(w, t) for t in ts) for w in named)]
        if by_content and len(found) > 1:
            # what a section explains is what its heading is most purely about: fewest other words
            extra = {key: len(heads[key]) - len(named) for key in found}
            found = [key for key in found if extra[key] == min(extra.values())]
        if len(found) == 1 and found[0] not in out:
            out.append(found[0])
    return out
