"""Fit the reader's decision on the ``dev`` splits: ``python -m eval.fit_reader``.

Every ``dev`` question of SQuAD 2.0 (``../shared/benchmarks/squad2``) and of the essay's golden
set goes through the real chain with the reader and a provisional decision that answers
everything, so each answer carries the reader's features, the evidence features and the span
the answer would lead with. Then:

* the sets: SQuAD 2.0 ``dev`` as it is (its unanswerable questions are the adversarial kind),
  the same questions over the articles with a seeded third of their paragraphs left out
  (``--missing-evidence``: questions whose evidence went are the unanswerable ones), the essay;
* a logistic model over a feature set (the reader's own, or the reader's beside the evidence
  gate's score or beside every evidence feature) is fitted on the sets, each weighted as a whole,
  and the feature set with the best mean out-of-fold AUC (five folds by question) is kept;
* the threshold is the one that refuses most unanswerable questions (mean of the sets) while
  false refusals stay within each set's bound (``--max-false-refusal SET=SHARE``, 0.08 each by
  default);
* the span margin a short answer needs is the one with the best mean token F1 of the three sets
  (below it the quoted sentences stand alone);
* the refusal levels (``--refusal``): ``balanced`` is the threshold above; ``strict`` and ``lenient``
  are found the same way with every set's bound at their aim (``--level NAME=SHARE``; 0.15 and 0.03
  by default), so each level is named by the most answerable dev questions it refuses on any set;
* the confidence: Platt scaling of the decision's out-of-fold score (its logit) to the probability
  that a question is answerable, fitted on the sets (each weighted as a whole, as above), with
  each set's expected calibration error over ten bins.

The result is written to ``rag/data/reader.json``. ``test`` splits are never read here. With
``--cache FILE`` the rows the chain produced are kept and read back by the next run (for the same
reader model only), so refitting costs seconds.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
import shutil
import sys
import tempfile
import zlib
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from rag.gate import FEATURES

from .metrics import token_f1

ROOT = Path(__file__).resolve().parent.parent
ESSAY = ROOT / "eval" / "golden" / "military-diplomacy.jsonl"
ESSAY_CORPUS = ROOT / "data" / "corpus"
OUT = ROOT / "rag" / "data" / "reader.json"
PARSIMONY = 0.005  # mean AUC within which a smaller feature set is preferred
# the most answerable dev questions of each set the threshold may refuse
MAX_FALSE_REFUSAL = {"squad2": 0.08, "squad2-missing": 0.08, "essay": 0.08, "manuals": 0.10}
# passages the reader reads: all five retrieved. Against the first three (2026-12-06, same reader, dev
# out of fold): the same mean AUC, better span F1 on all three sets, fewer essay false refusals.
PASSAGES = 5
# the refusal levels besides balanced (whose bounds are MAX_FALSE_REFUSAL): each one's bound on every set
LEVEL_AIMS = {"strict": 0.15, "lenient": 0.03}
FEATURE_SETS = {
    "reader": ("reader_answerable", "reader_margin", "reader_first_answerable", "reader_first_margin"),
    "reader+evidence": ("reader_answerable", "reader_margin", "reader_first_answerable", "reader_first_margin",
                        "gate_logit"),
    "reader+evidence features": ("reader_answerable", "reader_margin", "reader_first_answerable", "reader_first_margin",
                                 *FEATURES),
}


def squad2_dir() -> Path:
    """SQuAD 2.0's benchmark folder ($RAGBOT_BENCHMARKS_DIR/squad2, else ../shared/benchmarks/squad2)."""
    from .datasets import benchmark_dir

    return benchmark_dir("squad2")


def manuals_dev(folder: Path):
    """The manuals benchmark's ``dev`` documents (copied into ``folder``, a temporary one) and
    questions, or ``None`` where the benchmark is not there."""
    from rag.errors import InputError

    from .datasets import benchmark_dir
    from .golden import load_golden

    try:
        bench = benchmark_dir("manuals")
    except InputError:  # the fit reads it where it is there
        return None
    if not (bench / "questions.jsonl").is_file():
        return None
    cases = load_golden([bench / "questions.jsonl"], "dev")
    folder.mkdir(parents=True, exist_ok=True)
    for name in sorted({s for c in cases for s in c.sources}):
        shutil.copyfile(bench / "docs" / name, folder / name)
    return folder, cases


def provisional_gate(work: Path, passages: int) -> Path:
    """A decision that answers everything and always shows the span: what fitting needs to see."""
    path = work / "reader-provisional.json"
    path.write_text(json.dumps({"weights": {}, "bias": 10.0, "threshold": 0.0, "span_threshold": -1e9, "passages": passages}))
    return path


def run_set(settings, corpus: Path, cases, work: Path, embeddings) -> list[dict]:
    """The cases answered over an index of ``corpus`` built in ``work``: one row per case."""
    from rag import build_chain

    from .bench import drop_work
    from .runner import run_cases
    from .squad2 import bench_settings, ingest_articles

    bench = bench_settings(settings, work)
    try:
        ingest_articles(corpus, bench, embeddings, None)
        chain = build_chain(bench, embeddings=embeddings)
        results = run_cases(chain, cases)
    finally:
        drop_work(bench, work)
    return [row_of(case, answer) for case, (answer, _, _) in zip(cases, results)]


def row_of(case, answer: dict) -> dict:
    support = answer.get("support") or {}
    feats = {**(support.get("features") or {}), **(support.get("reader") or {})}
    short = answer.get("short_answer") or {}
    return {
        "id": case.id, "answerable": case.answerable, "features": feats,
        "short": short.get("text", ""), "short_score": short.get("score"),
        "answer": answer.get("answer", ""), "refs": [a for g in case.must_include_any for a in g] or [case.reference],
    }


def read_cache(cache: Path, reader: str, passages: int, limit: int | None) -> dict[str, list[dict]]:
    """The rows kept in ``cache``, when they were collected the same way with the same reader model."""
    from rag.errors import InputError

    kept = json.loads(cache.read_text())
    if "sets" not in kept:  # kept before caches said what they were collected with
        print(f"fit_reader: {cache} does not say which reader it was collected with; using it as it is", file=sys.stderr)
        return kept
    wanted = {"reader": reader, "passages": passages, "limit": limit}
    if {k: kept.get(k) for k in wanted} != wanted:
        raise InputError(f"{cache} was collected with another reader model, passage count or --limit; "
                         "delete it or name another --cache")
    return kept["sets"]


def collect(settings, passages: int, cache: Path | None = None, limit: int | None = None) -> dict[str, list[dict]]:
    """``{"squad2": rows, "essay": rows}`` of the dev questions (read from ``cache`` when there)."""
    from rag.answer.decision import model_sha

    reader = model_sha(settings.reader_file)
    if cache and cache.exists():
        return read_cache(cache, reader, passages, limit)
    from rag.embeddings import SentenceEmbeddings

    from .golden import load_golden
    from .squad2 import with_missing_evidence

    with tempfile.TemporaryDirectory(prefix="ragbot-fit-reader-") as tmp:
        work = Path(tmp)
        bench = settings.replace(reader_gate_file=str(provisional_gate(work, passages)), answer_core="reader")
        embeddings = SentenceEmbeddings.for_settings(bench)
        squad = [c for c in load_golden([squad2_dir() / "questions.jsonl"], "dev")]
        thinned, missing = with_missing_evidence(squad2_dir() / "articles", squad, work / "thinned")
        essay = [c for c in load_golden([ESSAY], "dev") if not c.history]
        if limit:  # a quick look: every n-th question, so both kinds stay in
            squad, missing, essay = (xs[:: max(1, len(xs) // limit)] for xs in (squad, missing, essay))
        rows = {
            "squad2": run_set(bench, squad2_dir() / "articles", squad, work / "squad2", embeddings),
            # the same questions with a third of the paragraphs gone: SQuAD 2.0's own unanswerable
            # ones are left out here, so this set is about evidence that is missing
            "squad2-missing": run_set(bench, thinned, [c for c in missing if c.type != "adversarial"],
                                      work / "missing", embeddings),
            "essay": run_set(bench, ESSAY_CORPUS, essay, work / "essay", embeddings),
        }
        manuals = manuals_dev(work / "manuals-docs")
        if manuals is not None:  # the manual pages, FAQs and READMEs of ../shared/benchmarks/manuals' dev split
            docs, cases = manuals
            rows["manuals"] = run_set(bench, docs, cases[:: max(1, len(cases) // limit)] if limit else cases,
                                      work / "manuals", embeddings)
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"reader": reader, "passages": passages, "limit": limit, "sets": rows}))
    return rows


def matrix(rows: list[dict], names) -> np.ndarray:
    return np.array([[r["features"].get(n, 0.0) for n in names] for r in rows])


def fit_logistic(sets: dict[str, list[dict]], names, folds: int = 5):
    """The model fitted on all rows (each set weighted as a whole), and out-of-fold scores per set."""
    from sklearn.linear_model import LogisticRegression

    rows = [r for s in sets.values() for r in s]
    x, y = matrix(rows, names), np.array([r["answerable"] for r in rows], dtype=int)
    w = np.concatenate([np.full(len(s), len(rows) / (len(sets) * len(s))) for s in sets.values()])
    # Folds by a hash of the question id: SQuAD's unanswerable questions name no article, so folds
    # by article would put all of them in one fold, scored by a model that never saw their kind.
    fold_of = np.array([zlib.crc32(r["id"].encode()) % folds for r in rows])
    oof = np.zeros(len(rows))
    for k in range(folds):
        train = fold_of != k
        m = LogisticRegression(C=1.0, max_iter=2000).fit(x[train], y[train], sample_weight=w[train])
        oof[~train] = m.predict_proba(x[~train])[:, 1]
    model = LogisticRegression(C=1.0, max_iter=2000).fit(x, y, sample_weight=w)
    out, i = {}, 0
    for name, s in sets.items():
        out[name] = oof[i : i + len(s)]
        i += len(s)
    return model, out


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else float("nan")


def rates(scores: np.ndarray, labels: np.ndarray, t: float) -> tuple[float, float]:
    """(refusal of unanswerable, false refusal of answerable) at threshold ``t``."""
    refused = scores < t
    return float(refused[labels == 0].mean()), float(refused[labels == 1].mean())


def choose_threshold(scores: dict[str, np.ndarray], labels: dict[str, np.ndarray], max_fr: dict[str, float]) -> float:
    """The threshold that refuses most (mean over sets) with false refusals within ``max_fr[set]`` on each."""
    grid = np.unique(np.concatenate(list(scores.values())))
    best, best_t = -1.0, float(grid.min())
    for t in grid:
        r = [rates(scores[n], labels[n], t) for n in scores]
        if all(fr <= max_fr[n] for n, (_, fr) in zip(scores, r)):
            refusal = float(np.mean([ref for ref, _ in r]))
            if refusal > best:
                best, best_t = refusal, float(t)
    return best_t


def span_f1(rows: list[dict], t: float) -> float:
    """Mean token F1 over answerable rows when the span is shown at margin ``t``, else the answer."""
    out = []
    for r in rows:
        if not r["answerable"]:
            continue
        shown = r["short"] if r["short"] and r["short_score"] is not None and r["short_score"] >= t else r["answer"]
        out.append(max(token_f1(shown, g) for g in r["refs"]))
    return float(np.mean(out)) if out else 0.0


def fit_levels(oof: dict[str, np.ndarray], labels: dict[str, np.ndarray], threshold: float,
               max_fr: dict[str, float], aims: dict[str, float], figures_key: str = "dev_out_of_fold") -> dict[str, dict]:
    """Each refusal level's aim, threshold and dev figures (under ``figures_key``); balanced is
    ``threshold`` (bounds ``max_fr``), the others refuse most with every set's false refusals within their aim."""
    def figures(t: float) -> dict:
        return {n: dict(zip(("refusal", "false_refusal"), (round(v, 4) for v in rates(oof[n], labels[n], t)))) for n in oof}

    found = {name: choose_threshold(oof, labels, {n: aim for n in oof}) for name, aim in aims.items()}
    found["balanced"] = threshold
    # balanced is named by the bound most sets share (the manuals' looser one does not rename it)
    shared = Counter(max_fr[n] for n in oof if n in max_fr) or Counter(max_fr.values())
    bounds = {**aims, "balanced": max(shared.items(), key=lambda kv: (kv[1], -kv[0]))[0]}
    order = sorted(found, key=lambda name: -found[name])  # strictest first
    return {name: {"aim": bounds[name], "threshold": round(found[name], 6), figures_key: figures(found[name])}
            for name in order}


def fit_confidence(oof: dict[str, np.ndarray], labels: dict[str, np.ndarray]) -> dict:
    """Platt scaling of the out-of-fold scores (each set weighted as a whole), with each set's
    expected calibration error over ten bins."""
    from rag.answer.reader import platt

    from .calibrate import fit_platt
    from .reliability import reliability

    total = sum(len(v) for v in oof.values())
    weights = np.concatenate([np.full(len(v), total / (len(oof) * len(v))) for v in oof.values()])
    a, b = fit_platt(np.concatenate(list(oof.values())), np.concatenate(list(labels.values())), weights)
    ece = {n: reliability([platt(s, a, b) for s in oof[n]], list(labels[n]))["ece"] for n in oof}
    return {"method": "platt", "a": a, "b": b, "dev_ece": ece}


SET_NAMES = {"squad2": "squad2 dev", "squad2-missing": "squad2 dev with evidence left out",
             "essay": "the essay golden set's dev split", "manuals": "manuals dev"}


def fitted_on(sets) -> str:
    """The dev sets a decision was fitted on, in words."""
    return ", ".join(SET_NAMES.get(n, n) for n in sets) + " (../shared/benchmarks)"


def with_levels(path: str, sets: dict[str, list[dict]], labels: dict[str, np.ndarray], aims: dict[str, float]):
    """The decision at ``path`` unchanged (balanced stays its threshold), with refusal levels and a
    confidence fitted on the scores its model gives the dev rows (scores of the rows it was fitted
    on, where a fresh fit has out-of-fold ones: for a decision that must not move)."""
    from dataclasses import replace

    from rag.answer.reader import load_reader_gate

    kept = load_reader_gate(path)
    scores = {n: np.array([kept.score(r["features"]) for r in s]) for n, s in sets.items()}
    max_fr = kept.info.get("max_false_refusal") or MAX_FALSE_REFUSAL
    levels = fit_levels(scores, labels, kept.threshold, max_fr, aims, figures_key="dev")
    confidence = {**fit_confidence(scores, labels), "fitted": "on the kept decision's own scores of the dev rows"}
    info = {**kept.info, "confidence": confidence,
            "levels_fitted": {"cases": {n: len(s) for n, s in sets.items()},
                              "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}}
    return replace(kept, levels=levels, confidence=(confidence["a"], confidence["b"]), info=info)


def _bound(text: str) -> tuple[str, float]:
    """``squad2=0.09`` as ("squad2", 0.09)."""
    name, _, share = text.partition("=")
    if name not in MAX_FALSE_REFUSAL or not share:
        raise argparse.ArgumentTypeError(f"expected SET=SHARE with SET one of {', '.join(MAX_FALSE_REFUSAL)}: {text!r}")
    return name, float(share)


def _level(text: str) -> tuple[str, float]:
    """``strict=0.2`` as ("strict", 0.2)."""
    name, _, share = text.partition("=")
    if name not in LEVEL_AIMS or not share:
        raise argparse.ArgumentTypeError(f"expected LEVEL=SHARE with LEVEL one of {', '.join(LEVEL_AIMS)}: {text!r}")
    return name, float(share)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--reader", default=None, help="the reader model to fit for (default: the packaged one)")
    parser.add_argument("--passages", type=int, default=PASSAGES)
    parser.add_argument("--max-false-refusal", type=_bound, action="append", default=[], metavar="SET=SHARE",
                        help="the most answerable dev questions of a set the threshold may refuse "
                             f"(default: {', '.join(f'{k}={v}' for k, v in MAX_FALSE_REFUSAL.items())})")
    parser.add_argument("--level", type=_level, action="append", default=[], metavar="LEVEL=SHARE",
                        help="a refusal level's aim: the most answerable dev questions of any set it may refuse "
                             f"(default: {', '.join(f'{k}={v}' for k, v in LEVEL_AIMS.items())}; balanced keeps --max-false-refusal)")
    parser.add_argument("--keep-decision", metavar="READER_JSON", default=None,
                        help="keep this decision (its model, threshold and span margin) and fit only the refusal levels "
                             "and the confidence, on the scores it gives the dev questions")
    parser.add_argument("--cache", default=None, help="keep the collected rows here, and read them back when present")
    parser.add_argument("--limit", type=int, default=None, help="about this many questions per set (a quick check, not a fit to ship)")
    return parser


def main(argv: list[str] | None = None) -> int:
    from rag.answer.reader import ReaderGate
    from rag.settings import Settings

    args = _parser().parse_args(argv)
    max_fr = {**MAX_FALSE_REFUSAL, **dict(args.max_false_refusal)}
    settings = Settings.from_env(reader_file=args.reader)
    sets = collect(settings, args.passages, Path(args.cache) if args.cache else None, args.limit)
    labels = {n: np.array([r["answerable"] for r in s], dtype=int) for n, s in sets.items()}
    aims = {**LEVEL_AIMS, **dict(args.level)}
    if args.keep_decision:
        gate = with_levels(args.keep_decision, sets, labels, aims)
        Path(args.out).write_text(json.dumps(gate.to_dict(), indent=1) + "\n")
        print(json.dumps({k: gate.to_dict()[k] for k in ("threshold", "levels", "confidence")}, indent=1))
        return 0
    report, fits = {}, {}
    for name, names in FEATURE_SETS.items():
        model, oof = fit_logistic(sets, names)
        aucs = {n: round(auc(oof[n], labels[n]), 4) for n in sets}
        report[name] = {"auc_out_of_fold": aucs}
        report[name]["mean_auc"] = round(float(np.mean(list(aucs.values()))), 4)
        fits[name] = (name, names, model, oof)
    # the fewest features whose mean AUC is within PARSIMONY of the best (a tie is no reason for more)
    top = max(r["mean_auc"] for r in report.values())
    best = min((fits[n] for n in report if report[n]["mean_auc"] >= top - PARSIMONY), key=lambda f: len(f[1]))
    name, names, model, oof = best
    threshold = choose_threshold(oof, labels, max_fr)
    grid = [round(t, 2) for t in np.arange(-4.0, 8.01, 0.25)]
    span_threshold = max(grid, key=lambda t: (round(np.mean([span_f1(s, t) for s in sets.values()]), 6), -t))
    levels = fit_levels(oof, labels, threshold, max_fr, aims)
    confidence = fit_confidence(oof, labels)
    info = {
        "feature_set": name, "fitted_on": fitted_on(sets),
        "cases": {n: len(s) for n, s in sets.items()}, "feature_sets": report,
        "dev_out_of_fold": {n: dict(zip(("refusal", "false_refusal"), map(lambda v: round(v, 4), rates(oof[n], labels[n], threshold))))
                            for n in sets},
        "dev_span_f1": {n: round(span_f1(s, span_threshold), 4) for n, s in sets.items()},
        "max_false_refusal": max_fr,
        "confidence": confidence,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    weights = {f: round(float(w), 6) for f, w in zip(names, model.coef_[0])}
    gate = ReaderGate(weights, round(float(model.intercept_[0]), 6), round(threshold, 6), span_threshold, args.passages, info,
                      levels, (confidence["a"], confidence["b"]))
    Path(args.out).write_text(json.dumps(gate.to_dict(), indent=1) + "\n")
    print(json.dumps(gate.to_dict(), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
