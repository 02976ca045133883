"""Fit the short-answer span model from the SQuAD 2.0 ``dev`` split: ``python -m eval.train_spans [--data DIR]``.

Each answerable dev question is paired with the sentences an answer would quote: its evidence
sentence and the next. Every run of up to six words of both is a candidate; the runs equal to a
gold answer are the positives, all the others negatives, so the model also learns to stay low on
a sentence that holds no answer. Gradient-boosted trees are fitted on them. The confidence a span
needs to be shown is chosen for the best mean token F1 of two sets: the dev questions (out-of-fold
scores, two folds by article) and the essay's answerable ``dev`` questions (whose references are
mostly explanations, so a span must be confident to lead); a question without a shown span is
judged by the two sentences. The ``test`` split is read once, for the held-out figure in the model
card. Deterministic; about a minute and a half on two cores.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from rag.answer.spans import SpanFinder, candidates, first_words
from rag.answer.trees import TreeEnsemble
from rag.errors import InputError

from .datasets import benchmark_dir
from .metrics import squad_normalize, token_f1

ESSAY = Path(__file__).parent / "golden" / "military-diplomacy.jsonl"
ESSAY_TEXT = Path(__file__).resolve().parent.parent / "data" / "corpus" / "political-impact-of-military-diplomacy.txt"
OUT = Path(__file__).resolve().parent.parent / "rag" / "data" / "span.json"
CUES = 40  # most frequent first words of the dev questions
CUE_SPREAD = 0.5  # a cue word opens questions in at least this share of the dev articles, so no topic word is one


def with_next_sentence(sentence: str, text: str) -> list[str]:
    """``sentence`` and the one after it in ``text``: about what an extractive answer quotes (two
    sentences on average), so what a short answer is looked for in, and what a question without a
    shown span is judged by."""
    from rag.text import sentence_spans

    spans = sentence_spans(text)
    key = " ".join(sentence.split())[:60]
    for i, (a, b) in enumerate(spans):
        if key in " ".join(text[a:b].split()):
            return [text[x:y] for x, y in spans[i : i + 2]]
    return [sentence]


def answerable_questions(split: str, data: str | Path | None = None) -> list[dict]:
    """The rows of ``split`` that are answerable and carry an evidence sentence and gold answers, from
    the squad2 folder ``data`` (default: where ``eval.datasets`` finds it)."""
    questions = benchmark_dir("squad2", data) / "questions.jsonl"
    rows = [json.loads(line) for line in questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r["split"] == split and r.get("answerable") and r.get("evidence")]


def load_cases(split: str, data: str | Path | None = None) -> list[dict]:
    """``answerable_questions(split)``, each with the sentences an answer would quote as ``quoted``."""
    articles = benchmark_dir("squad2", data) / "articles"
    cases = answerable_questions(split, data)
    texts = {src: (articles / src).read_text(encoding="utf-8") for src in {c["sources"][0] for c in cases}}
    return [{**c, "quoted": with_next_sentence(c["evidence"][0], texts[c["sources"][0]])} for c in cases]


def essay_cases() -> list[dict]:
    """The essay's answerable ``dev`` questions with a reference, each with the essay sentence that
    holds its first evidence snippet as ``evidence``: they ask for explanations as often as for
    names, so the threshold learns not to cut a phrase out of an explanation."""
    from rag.text import sentence_spans

    text = ESSAY_TEXT.read_text()
    spans = [text[a:b] for a, b in sentence_spans(text)]
    out = []
    for line in ESSAY.read_text().splitlines():
        case = json.loads(line) if line.strip() else {}
        if case.get("split") != "dev" or not case.get("answerable", True) or not case.get("reference") or not case.get("evidence"):
            continue
        snippet = " ".join(case["evidence"][0].split())
        found = [s for s in spans if snippet[:60] in " ".join(s.split())]
        if found:
            quoted = with_next_sentence(found[0], text)
            out.append({**case, "evidence": [found[0]], "quoted": quoted, "must_include_any": [[case["reference"]]]})
    return out


def cue_words(cases: list[dict]) -> list[str]:
    """The CUES most frequent first question words among those that open questions in at least
    CUE_SPREAD of the articles: question wording ("how", "year"), not one article's topic ("ctenophores")."""
    counts: Counter[str] = Counter()
    articles: dict[str, set[str]] = {}
    for c in cases:
        for w in first_words(c["question"]):
            counts[w] += 1
            articles.setdefault(w, set()).add(c["sources"][0])
    needed = CUE_SPREAD * len({c["sources"][0] for c in cases})
    return [w for w, _ in counts.most_common() if len(articles[w]) >= needed][:CUES]


def golds(case: dict) -> list[str]:
    return [a for group in case["must_include_any"] for a in group]


@dataclass(frozen=True)
class Rows:
    """Every candidate of some cases: features, label, the case it belongs to, its text."""

    x: np.ndarray
    y: np.ndarray
    owner: np.ndarray
    texts: tuple[str, ...]


def rows_of(cases: list[dict], cues: list[str]) -> Rows:
    """The candidates of the sentences each case quotes (its evidence sentence and the next, as an
    answer would quote them); a run equal to a gold answer is a positive, every other run of both
    sentences a negative, so the model learns to stay low on a sentence that holds no answer."""
    x, y, owner, texts = [], [], [], []
    for k, case in enumerate(cases):
        gold = {squad_normalize(a) for a in golds(case)}
        for sentence in case["quoted"]:
            for a, b, feats in candidates(case["question"], sentence, cues):
                x.append(feats)
                y.append(int(squad_normalize(sentence[a:b]) in gold))
                owner.append(k)
                texts.append(sentence[a:b])
    return Rows(np.array(x), np.array(y), np.array(owner), tuple(texts))


def fit(x: np.ndarray, y: np.ndarray) -> TreeEnsemble:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.08, max_leaf_nodes=31, l2_regularization=1.0,
                                           early_stopping=False, random_state=0)
    return TreeEnsemble.from_sklearn(model.fit(x, y))


def best_spans(model: TreeEnsemble, cases: list[dict], rows: Rows) -> list[tuple[str, float]]:
    """Each case's best span text and its probability."""
    p = model.probability(rows.x) if len(rows.x) else np.array([])
    out = []
    for k, case in enumerate(cases):
        idx = np.flatnonzero(rows.owner == k)
        if not len(idx):
            out.append(("", 0.0))
            continue
        best = idx[int(np.argmax(p[idx]))]
        out.append((rows.texts[best], float(p[best])))
    return out


def f1_at(threshold: float, cases: list[dict], spans: list[tuple[str, float]]) -> float:
    """Mean token F1 when a span is shown at ``threshold`` and the quoted sentences otherwise."""
    scores = []
    for case, (text, p) in zip(cases, spans):
        shown = text if p >= threshold else " ".join(case["quoted"])
        scores.append(max(token_f1(shown, g) for g in golds(case)))
    return float(np.mean(scores)) if scores else 0.0


def out_of_fold(cases: list[dict], cues: list[str]) -> list[tuple[str, float]]:
    """Best spans of each case from a model fitted on the other half of the articles."""
    articles = sorted({c["sources"][0] for c in cases})
    folds = [set(articles[0::2]), set(articles[1::2])]
    spans: list[tuple[str, float]] = [("", 0.0)] * len(cases)
    for held in folds:
        train = [c for c in cases if c["sources"][0] not in held]
        test_idx = [i for i, c in enumerate(cases) if c["sources"][0] in held]
        fitted = rows_of(train, cues)
        model = fit(fitted.x, fitted.y)
        held_cases = [cases[i] for i in test_idx]
        for i, s in zip(test_idx, best_spans(model, held_cases, rows_of(held_cases, cues))):
            spans[i] = s
    return spans


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(OUT), help="where to write the span model (default: the packaged rag/data/span.json)")
    parser.add_argument("--data", default=None,
                        help="the squad2 folder (default $RAGBOT_BENCHMARKS_DIR/squad2, else ../shared/benchmarks/squad2)")
    args = parser.parse_args(argv)
    try:
        data = benchmark_dir("squad2", args.data)
    except InputError as exc:
        parser.error(str(exc))
    dev, test = load_cases("dev", data), load_cases("test", data)
    cues = cue_words(dev)
    oof = out_of_fold(dev, cues)
    rows = rows_of(dev, cues)
    model = fit(rows.x, rows.y)
    essay = essay_cases()
    essay_spans = best_spans(model, essay, rows_of(essay, cues))
    # One threshold for factoid and explanatory questions alike: the best mean of the two sets' F1.
    grid = [round(t, 2) for t in np.arange(0.0, 0.95, 0.05)]
    joint = lambda t: (f1_at(t, dev, oof) + f1_at(t, essay, essay_spans)) / 2  # noqa: E731
    threshold = max(grid, key=lambda t: (round(joint(t), 6), -t))
    held_out = f1_at(threshold, test, best_spans(model, test, rows_of(test, cues)))
    info = {
        "trained_on": "the squad2 benchmark's questions.jsonl split dev (the evidence sentence and the next of answerable questions); "
                      "threshold also on eval/golden/military-diplomacy.jsonl split dev",
        "questions": len(dev), "candidates": int(len(rows.y)), "positives": int(rows.y.sum()),
        "dev_out_of_fold_f1": round(f1_at(threshold, dev, oof), 4),
        "essay_dev_questions": len(essay), "essay_dev_f1": round(f1_at(threshold, essay, essay_spans), 4),
        "test_f1_given_sentences": round(held_out, 4),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    finder = SpanFinder(model, tuple(cues), threshold, info)
    Path(args.out).write_text(json.dumps(finder.to_dict(), separators=(",", ":")) + "\n")
    print(json.dumps({"out": args.out, "threshold": threshold, **info}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
