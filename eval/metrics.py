"""Evaluation metrics: pure, deterministic functions of a golden case and an Answer dict.

An answer is the Answer JSON of interfaces.md (``Answer.to_dict()``). Choices worth knowing:

* Relevance of a retrieved passage is binary. With evidence snippets, a passage is relevant when
  it contains one after whitespace/case normalisation (typographic quotes and dashes folded to
  ASCII); with no evidence, a passage from one of the case's ``sources`` is relevant.
* Retrieved chunks repeated under the same ``chunk_id`` count once, at their first rank.
* nDCG@10 uses binary gains over relevance *targets* (the evidence snippets, or the sources when
  there is no evidence). Targets seen together in one retrieved chunk merge into one unit, since no
  ranking can put them apart. A passage gains 1 when it covers a unit no higher-ranked passage
  covered; the ideal DCG has one gain per rank for min(#units, 10) ranks (so #targets capped at
  10 when no chunk holds two). nDCG thus stays in [0, 1] when many chunks hold the same snippet
  (or, with sources only, when every chunk of the one relevant file matches), and a chunk that
  holds both of a case's snippets at rank 1 scores 1, not 1/(1 + 1/log2 3).
* A refused answer to an answerable question scores 0 on must_include_recall and token_f1 and
  fails answer_pass; it has no sentences to judge, so its faithfulness is None (not counted).
* An answerable case with no must_include_any groups passes when it is not refused.
* Faithfulness: see ``sentence_supported``; a sentence with no [n] marker is unsupported.
"""
from __future__ import annotations

import re
import string
from collections import Counter
from typing import Iterable, Mapping, Sequence

import numpy as np

# What an answer's markup is (a citation marker, a list item's lead) is shared with the chain: one
# pattern each, in rag/text.py. What the metrics count stays defined here, on purpose: the content
# words (this stopword list keeps negations, so a "not" the passage lacks is unsupported; the chain's
# drops them), the light stemmer and the sentence units are the yardstick the chain is measured with,
# and a change to the chain's tokenizer must not move its own scores. Measured on the saved golden,
# blind and SQuAD 2.0 reports, rag.text's sentence splitter would move faithfulness (1.000 -> 0.970 on
# the golden set; it drops title-like lines); its terms and numbers would change no verdict today.
from rag.text import BULLET, CITATION, LEADING_CITATIONS, MARKER_NUMBERS

from .golden import GoldenCase

RETRIEVAL_METRICS = ("hit@1", "hit@5", "mrr@10", "ndcg@10")
ANSWER_METRICS = ("must_include_recall", "answer_pass_rate", "token_f1", "citation_precision", "faithfulness")
REFUSAL_METRICS = ("refusal_accuracy", "false_refusal_rate")
LATENCY_METRICS = ("latency_p50_ms", "latency_p95_ms")
METRIC_NAMES = RETRIEVAL_METRICS + ANSWER_METRICS + REFUSAL_METRICS + LATENCY_METRICS
LOWER_IS_BETTER = frozenset({"false_refusal_rate", "latency_p50_ms", "latency_p95_ms"})

SUPPORT_MIN_OVERLAP = 0.7  # share of a sentence's content words that must occur in the cited passage

_FOLD = str.maketrans({"‘": "'", "’": "'", "‚": "'", "“": '"', "”": '"', "„": '"', "–": "-", "—": "-", "\u00a0": " "})
_WS = re.compile(r"\s+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# A boundary: end punctuation, closing quotes, any [n] markers (they belong to the sentence before),
# then space and something that does not start like a continuation.
_BOUNDARY = re.compile(rf"[.!?][\"')]*(?:\s*\[{MARKER_NUMBERS}\])*\s+(?=[^\s\[a-z])")
_ABBREVIATIONS = frozenset({"e.g", "i.e", "mr", "mrs", "ms", "dr", "prof", "st", "vs", "fig", "u.s", "u.k", "u.n", "cf", "al"})

# A standard English stopword list, kept here so scores do not depend on an optional package.
# Negations are deliberately absent: "not" in an answer must be backed by the passage.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me might
    more most must my myself of off on once only or other ought our ours ourselves out over own same shall
    she should so some such than that the their theirs them themselves then there these they this those
    through to too under until up upon very was we were what when where which while who whom whose why
    will with would you your yours yourself yourselves according essay text passage document says said
    one's it's that's there's what's""".split()
)


# ---------------------------------------------------------------- text helpers


def normalize(text: str) -> str:
    """Lowercase, typographic quotes/dashes folded to ASCII, whitespace collapsed."""
    return _WS.sub(" ", (text or "").translate(_FOLD)).strip().lower()


def strip_markers(text: str) -> str:
    """The text without its ``[n]`` citation markers."""
    return CITATION.sub("", text or "")


def markers(text: str) -> list[int]:
    """The citation numbers in ``text``, in order of appearance (``[1]``, ``[2][3]``, ``[1, 2]``)."""
    found: list[int] = []
    for m in CITATION.finditer(text or ""):
        found.extend(int(n) for n in m.group(1).split(","))
    return found


def split_sentences(text: str) -> list[str]:
    """Answer text split into sentences, ``[n]`` markers kept with the sentence they follow.

    Hand-written because sentence splitters do not know that a marker after the full stop
    belongs to the sentence before it; lines (list items) are sentences of their own.
    """
    pieces: list[str] = []
    for line in (text or "").splitlines():
        line = BULLET.sub("", line).strip()
        lead = LEADING_CITATIONS.match(line)
        if lead and pieces:  # "[2] Next sentence": the markers close the lines above
            pieces.append(lead.group(0).strip())
            line = line[lead.end() :].strip()
        start = 0
        for m in _BOUNDARY.finditer(line):
            head = line[start : m.start()]
            last_word = head.rsplit(None, 1)[-1].lower() if head.split() else ""
            if last_word.rstrip(".") in _ABBREVIATIONS or re.fullmatch(r"[a-z]", last_word):
                continue
            pieces.append(line[start : m.end()].strip())
            start = m.end()
        pieces.append(line[start:].strip())
    sentences: list[str] = []
    unmarked_from = 0  # first sentence after the last one that carried a marker
    for piece in pieces:
        if _WORD.search(strip_markers(piece).lower()):
            sentences.append(piece)
            if markers(piece):
                unmarked_from = len(sentences)
        elif markers(piece):
            # A line of markers alone (a quoted list, then "[3]") cites the unmarked lines above it.
            tail = " ".join(f"[{n}]" for n in markers(piece))
            for i in range(unmarked_from, len(sentences)):
                sentences[i] = f"{sentences[i]} {tail}"
            unmarked_from = len(sentences)
    return sentences


def _stem(word: str) -> str:
    """A light suffix stripper (plural, -ed, -ing, final e): enough to match inflections, no dependency."""
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix, min_stem in (("ing", 3), ("ed", 2)):
        if word.endswith(suffix) and len(word) - len(suffix) >= min_stem:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]
            break
    if len(word) > 2 and word.endswith("e"):
        word = word[:-1]
    return word


def content_words(text: str) -> set[str]:
    """Stemmed, lowercased words of ``text`` without stopwords, one-letter words and numbers."""
    words = _WORD.findall((text or "").translate(_FOLD).lower())
    return {_stem(w) for w in words if w not in STOPWORDS and len(w) > 1 and not w.isdigit()}


def numbers(text: str) -> set[str]:
    """Numbers written in digits, thousands separators removed ("2,000" -> "2000")."""
    found = set()
    for m in _NUMBER.finditer(text or ""):
        n = m.group(0)
        if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", n):
            n = n.replace(",", "")
        found.add(n)
    return found


# ---------------------------------------------------------------- retrieval


def _source_matches(source: str, sources: Iterable[str]) -> bool:
    """Same file: equal paths, or one is the other with leading folders."""
    source = (source or "").replace("\\", "/")
    for s in sources:
        s = s.replace("\\", "/")
        if source == s or source.endswith("/" + s) or s.endswith("/" + source):
            return True
    return False


def relevance_targets(passage: Mapping, case: GoldenCase) -> set[int]:
    """Which of the case's targets (evidence snippets, else sources) the passage covers, by index."""
    if case.evidence:
        text = normalize(passage.get("text", ""))
        return {i for i, ev in enumerate(case.evidence) if normalize(ev) in text}
    source = passage.get("source", "")
    return {i for i, s in enumerate(case.sources) if _source_matches(source, [s])}


def n_targets(case: GoldenCase) -> int:
    """How many relevance targets a case has: evidence snippets, else sources."""
    return len(case.evidence) if case.evidence else len(case.sources)


def is_relevant(passage: Mapping, case: GoldenCase) -> bool:
    """A passage is relevant when it covers at least one of the case's targets."""
    return bool(relevance_targets(passage, case))


def dedupe(passages: Sequence[Mapping]) -> list[Mapping]:
    """Passages with repeated chunk ids dropped (first occurrence kept)."""
    seen: set = set()
    out = []
    for p in passages:
        key = p.get("chunk_id") or id(p)
        if key in seen:
            continue
        seen.add(key)
        out.append(p)
    return out


def hit_at(relevant: Sequence[bool], k: int) -> float:
    """1.0 when a relevant item is among the first ``k``."""
    return 1.0 if any(relevant[:k]) else 0.0


def reciprocal_rank(relevant: Sequence[bool], k: int = 10) -> float:
    """1/rank of the first relevant item within the first ``k``, else 0."""
    for rank, rel in enumerate(relevant[:k], 1):
        if rel:
            return 1.0 / rank
    return 0.0


def dcg(gains: Sequence[float], k: int = 10) -> float:
    """Discounted cumulative gain with the log2(rank + 1) discount."""
    from math import log2

    return sum(g / log2(rank + 1) for rank, g in enumerate(gains[:k], 1))


def ndcg(gains: Sequence[float], ideal_gains: Sequence[float], k: int = 10) -> float:
    """DCG@k over the DCG@k of the ideal ranking (gains sorted best first); 0 when nothing is relevant."""
    ideal = dcg(sorted(ideal_gains, reverse=True), k)
    return dcg(gains, k) / ideal if ideal > 0 else 0.0


def retrieval_metrics(case: GoldenCase, retrieved: Sequence[Mapping]) -> dict:
    """hit@1, hit@5, mrr@10, ndcg@10 of the retrieved list; None when the case has no targets."""
    if not n_targets(case):
        return {name: None for name in RETRIEVAL_METRICS}
    found = [relevance_targets(p, case) for p in dedupe(retrieved)]
    unit = _merge_units(n_targets(case), found)
    covered: set[int] = set()
    relevant, gains = [], []
    for targets in found[:10]:
        units = {unit[t] for t in targets}
        relevant.append(bool(targets))
        gains.append(1.0 if units - covered else 0.0)
        covered |= units
    return {
        "hit@1": hit_at(relevant, 1),
        "hit@5": hit_at(relevant, 5),
        "mrr@10": reciprocal_rank(relevant, 10),
        "ndcg@10": ndcg(gains, [1.0] * min(len(set(unit)), 10), 10),
    }


def _merge_units(n: int, together: Iterable[set[int]]) -> list[int]:
    """For targets 0..n-1, the unit each belongs to: targets that share a chunk are one unit."""
    unit = list(range(n))

    def find(t: int) -> int:
        while unit[t] != t:
            t = unit[t]
        return t

    for targets in together:
        roots = sorted({find(t) for t in targets})
        for r in roots[1:]:
            unit[r] = roots[0]
    return [find(t) for t in range(n)]


# ---------------------------------------------------------------- answer content


def group_met(group: Sequence[str], answer_text: str) -> bool:
    """A must_include_any group is met when the answer contains any alternative, case-insensitively."""
    text = normalize(strip_markers(answer_text))
    return any(normalize(alt) in text for alt in group)


def must_include_recall(case: GoldenCase, answer_text: str, refused: bool) -> float | None:
    """Share of the case's groups the answer meets; 0 for a refusal; None when there are no groups."""
    if not case.must_include_any:
        return None
    if refused:
        return 0.0
    return sum(group_met(g, answer_text) for g in case.must_include_any) / len(case.must_include_any)


def answer_pass(case: GoldenCase, answer_text: str, refused: bool) -> bool | None:
    """Answerable case: not refused and every group met. None for an unanswerable case."""
    if not case.answerable:
        return None
    return not refused and all(group_met(g, answer_text) for g in case.must_include_any)


def squad_normalize(text: str) -> str:
    """SQuAD's answer normalisation: lowercase, no punctuation, no articles, single spaces."""
    text = (text or "").translate(_FOLD).lower()
    text = "".join(ch for ch in text if ch not in string.punctuation)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1 between an answer (markers removed) and a reference answer."""
    pred = squad_normalize(strip_markers(prediction)).split()
    ref = squad_normalize(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


# ---------------------------------------------------------------- citations and faithfulness


def cited_passages(answer: Mapping) -> dict[int, dict]:
    """``n`` -> {"text", "source"} of the passage each citation points at.

    The passage text comes from the answer's ``retrieved`` list by chunk id (``Citation.to_dict``
    carries no passage); a citation whose chunk is not in that list falls back to its quote.
    """
    by_id = {p.get("chunk_id"): p for p in answer.get("retrieved") or []}
    out: dict[int, dict] = {}
    for c in answer.get("citations") or []:
        p = by_id.get(c.get("chunk_id"))
        text = (p or {}).get("text") or c.get("passage") or c.get("quote") or ""
        source = c.get("source") or (p or {}).get("source", "")
        out[int(c.get("n", 0))] = {"text": text, "source": source, "chunk_id": c.get("chunk_id")}
    return out


def citation_precision(case: GoldenCase, answer: Mapping) -> float | None:
    """Share of the answer's citations whose passage is relevant to the case; None with no citations."""
    citations = answer.get("citations") or []
    if not citations or not n_targets(case):
        return None
    passages = cited_passages(answer)
    hits = sum(is_relevant(passages.get(int(c.get("n", 0)), {}), case) for c in citations)
    return hits / len(citations)


def sentence_supported(sentence: str, passage_text: str, min_overlap: float = SUPPORT_MIN_OVERLAP) -> bool:
    """At least ``min_overlap`` of the sentence's content words and every number occur in the passage."""
    claim = strip_markers(sentence)
    words = content_words(claim)
    if words:
        found = content_words(passage_text)
        if len(words & found) / len(words) < min_overlap:
            return False
    return numbers(claim) <= numbers(passage_text)


def judge_sentences(answer: Mapping) -> list[tuple[str, bool]]:
    """Each answer sentence with whether the passages it cites support it; [] for a refusal."""
    if answer.get("refused"):
        return []
    passages = cited_passages(answer)
    judged = []
    for sentence in split_sentences(answer.get("answer", "")):
        texts = [passages[n]["text"] for n in markers(sentence) if n in passages]
        # Several markers: the claim may join facts from several passages, so judge against all of them.
        judged.append((sentence, bool(texts) and sentence_supported(sentence, "\n".join(texts))))
    return judged


def faithfulness(answer: Mapping) -> float | None:
    """Share of answer sentences supported by their cited passages; None when there is nothing to judge."""
    judged = judge_sentences(answer)
    if not judged:
        return None
    return sum(ok for _, ok in judged) / len(judged)


# ---------------------------------------------------------------- per case and aggregate


def latency_ms(answer: Mapping) -> float | None:
    """The answer's total time in milliseconds, if recorded."""
    total = (answer.get("timings_ms") or {}).get("total")
    return float(total) if isinstance(total, (int, float)) else None


def is_correct(case: GoldenCase, answer: Mapping) -> bool:
    """Answerable: passes; unanswerable: refused."""
    refused = bool(answer.get("refused"))
    if not case.answerable:
        return refused
    return bool(answer_pass(case, answer.get("answer", ""), refused))


def case_metrics(case: GoldenCase, answer: Mapping) -> dict:
    """All per-case figures; None where a metric does not apply to the case."""
    refused = bool(answer.get("refused"))
    text = answer.get("answer", "") or ""
    m: dict = retrieval_metrics(case, answer.get("retrieved") or [])
    m["must_include_recall"] = must_include_recall(case, text, refused)
    m["answer_pass"] = answer_pass(case, text, refused)
    m["token_f1"] = None
    if case.answerable and case.reference:
        # SQuAD's F1 is over the predicted span: an answer led by a short answer is judged by it.
        short = (answer.get("short_answer") or {}).get("text")
        m["token_f1"] = 0.0 if refused else token_f1(short or text, case.reference)
    m["citation_precision"] = citation_precision(case, answer)
    m["faithfulness"] = faithfulness(answer)
    m["refused"] = refused
    m["correct"] = is_correct(case, answer)
    m["latency_ms"] = latency_ms(answer)
    return m


def _mean(values: Iterable) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with numpy's default linear interpolation; None when empty."""
    if not len(values):
        return None
    return float(np.percentile(np.asarray(values, dtype=float), q))


def aggregate(cases: Sequence[GoldenCase], per_case: Sequence[Mapping]) -> dict:
    """The report's metrics: retrieval and answer metrics over answerable cases, refusal rates, latency."""
    answerable = [m for c, m in zip(cases, per_case) if c.answerable]
    unanswerable = [m for c, m in zip(cases, per_case) if not c.answerable]
    out: dict = {}
    for name in RETRIEVAL_METRICS + ("must_include_recall", "token_f1", "citation_precision", "faithfulness"):
        out[name] = _mean(m.get(name) for m in answerable)
    out["answer_pass_rate"] = _mean(m.get("answer_pass") for m in answerable)
    out["refusal_accuracy"] = _mean(m.get("refused") for m in unanswerable)
    out["false_refusal_rate"] = _mean(m.get("refused") for m in answerable)
    latencies = [m["latency_ms"] for m in per_case if m.get("latency_ms") is not None]
    out["latency_p50_ms"] = percentile(latencies, 50)
    out["latency_p95_ms"] = percentile(latencies, 95)
    return {name: out[name] for name in METRIC_NAMES}


def breakdown(cases: Sequence[GoldenCase], per_case: Sequence[Mapping], key: str = "type") -> dict[str, dict]:
    """``aggregate`` per value of a case attribute (``type`` or ``split``), plus the case count."""
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(cases):
        groups.setdefault(getattr(c, key) or "(none)", []).append(i)
    out = {}
    for value, idx in sorted(groups.items()):
        agg = aggregate([cases[i] for i in idx], [per_case[i] for i in idx])
        out[value] = {"n": len(idx), **agg}
    return out


# ---------------------------------------------------------------- refusal gate


def risk_coverage(cases: Sequence[GoldenCase], answers: Sequence[Mapping]) -> dict:
    """Risk-coverage of the refusal gate, from each answer's ``support.gate_score``.

    At threshold t a case is answered when its gate score is >= t, unless the run refused it
    with a score already at or above the run's own threshold (refused after the gate, e.g. by
    verification: lowering t does not change that). Risk is the share of answered cases that
    are wrong: an unanswerable case answered, or an answerable case failing answer_pass. A case
    answered only below the run's threshold has no answer to judge, so an answerable one counts
    as wrong (pessimistic); an unanswerable one is wrong by definition. Coverage is over all
    cases with a gate score. ``levels`` is where each refusal level's threshold (the answers'
    ``support.refusal_levels``) puts the run on the curve.
    """
    scored = []
    thresholds = []
    marks: dict = {}
    for case, answer in zip(cases, answers):
        support = answer.get("support") or {}
        score = support.get("gate_score")
        if isinstance(score, (int, float)):
            scored.append((float(score), case, answer))
            thr = support.get("gate_threshold")
            if isinstance(thr, (int, float)):
                thresholds.append(float(thr))
            marks = marks or dict(support.get("refusal_levels") or {})
    current = Counter(thresholds).most_common(1)[0][0] if thresholds else None
    n = len(scored)
    result: dict = {"n_scored": n, "n_cases": len(cases), "threshold": current, "points": [], "current": None,
                    "levels": {}}
    if not n:
        return result

    def point(t: float) -> dict:
        answered = wrong = 0
        for score, case, answer in scored:
            refused = bool(answer.get("refused"))
            if score < t:
                continue
            if refused and (current is None or score >= current):
                continue  # refused for a reason the gate threshold does not control
            answered += 1
            if refused or not is_correct(case, answer):
                wrong += 1
        return {"threshold": t, "coverage": answered / n, "risk": (wrong / answered) if answered else None}

    for t in [float("-inf")] + sorted({s for s, _, _ in scored}):
        p = point(t)
        if p["risk"] is not None:
            result["points"].append(p)
    if current is not None:
        result["current"] = point(current)
    result["levels"] = {name: point(float(t)) for name, t in marks.items()}
    for p in result["points"]:
        if p["threshold"] == float("-inf"):
            p["threshold"] = None  # JSON has no -inf: None means "answer everything"
    return result
