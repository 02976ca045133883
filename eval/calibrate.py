"""Fit a decision on an eval run's labelled answers: the reader's decision for one collection
(``ragbot eval GOLDEN --calibrate``: each refusal level's threshold and the confidence's scaling,
stored with the collection), or the old evidence gate (rag/gate, ``--calibrate-gate GATE_JSON``)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping, Sequence

from rag.errors import InputError

from .golden import GoldenCase


def gate_rows(cases: Sequence[GoldenCase], answers: Sequence[Mapping]) -> tuple[list[dict], list[bool]]:
    """``(feature dicts, answerable labels)`` of the answers that carry ``support.features``."""
    rows, labels = [], []
    for case, answer in zip(cases, answers):
        feats = (answer.get("support") or {}).get("features")
        if isinstance(feats, dict) and feats:
            row = {k: float(v) for k, v in feats.items()}
            novelty = (answer.get("support") or {}).get("novelty")
            if isinstance(novelty, (int, float)):
                row["novelty"] = float(novelty)  # the follow-up rule's measure: its refusals count as made
            rows.append(row)
            labels.append(case.answerable)
    return rows, labels


def calibrate_gate(cases: Sequence[GoldenCase], answers: Sequence[Mapping], out_path: str | Path, source: str = "") -> str:
    """Fit the gate, write it as JSON to ``out_path`` and return a one-paragraph summary."""
    from eval.gate_fit import fit_gate

    rows, labels = gate_rows(cases, answers)
    if not rows:
        raise InputError("no answer carried gate features (support.features): nothing to calibrate on")
    if len(set(labels)) < 2:
        raise InputError("calibration needs both answerable and unanswerable cases; these cases have only one kind")
    info = {
        "fitted_on": source,
        "cases": len(rows),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    gate = fit_gate(rows, labels, info)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(gate.to_dict(), indent=2) + "\n", encoding="utf-8")
    answered = [gate.answerable(r)[0] for r in rows]
    pos = sum(labels)
    neg = len(labels) - pos
    kept = sum(a for a, y in zip(answered, labels) if y)
    refused = sum(not a for a, y in zip(answered, labels) if not y)
    return (
        f"wrote the gate to {out}: threshold {gate.threshold:g}; on the {len(rows)} cases it was fitted on it "
        f"answers {kept}/{pos} answerable and refuses {refused}/{neg} unanswerable questions"
    )


# --- the reader's decision for one collection (`ragbot eval GOLDEN --calibrate`) ----------------

MIN_CASES = 20  # fewer labelled questions fit a level's threshold too loosely to be worth storing
# each level's aim when the shipped reader.json carries none (fitted before levels existed)
DEFAULT_AIMS = {"strict": 0.15, "balanced": 0.08, "lenient": 0.03}


class TooFewCases(InputError):
    """Not enough labelled questions (or not both kinds) to fit a collection's decision."""


def decision_rows(cases: Sequence[GoldenCase], answers: Sequence[Mapping]) -> tuple[list[float], list[bool]]:
    """``(scores, answerable labels)`` of the answers the reader decided (their ``support.gate_score``
    is the reader decision's score whatever level answered them)."""
    scores, labels = [], []
    for case, answer in zip(cases, answers):
        support = answer.get("support") or {}
        score = support.get("gate_score")
        if "reader" in support and isinstance(score, (int, float)):
            scores.append(float(score))
            labels.append(case.answerable)
    return scores, labels


def level_threshold(answerable_scores: Sequence[float], aim: float) -> float:
    """The score below which about ``aim`` of answerable questions like these fall. The k-th lowest
    of n scores is passed over by about k / (n + 1) of new questions, so the threshold sits at rank
    ``aim * (n + 1)``, between two scores (below the lowest or above the highest it stops there)."""
    import numpy as np

    return float(np.quantile(np.asarray(answerable_scores, dtype=float), aim, method="weibull"))


def fit_platt(scores: Sequence[float], labels: Sequence[bool], weights: Sequence[float] | None = None) -> tuple[float, float]:
    """``(a, b)`` of ``P(answerable) = sigmoid(a * logit(score) + b)``, fitted by logistic regression."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from rag.answer.reader import logit

    x = logit(np.asarray(scores, dtype=float)).reshape(-1, 1)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(x, np.asarray(labels, dtype=int), sample_weight=weights)
    return round(float(model.coef_[0][0]), 6), round(float(model.intercept_[0]), 6)


def level_aims(gate) -> dict[str, float]:
    """Each refusal level's aim: the shipped decision's own, else DEFAULT_AIMS."""
    return {name: float(gate.levels[name]["aim"]) if name in gate.levels else aim for name, aim in DEFAULT_AIMS.items()}


def fit_decision(scores: Sequence[float], labels: Sequence[bool], aims: Mapping[str, float]) -> dict:
    """Each level's threshold at its aim on these questions, and the confidence's Platt scaling;
    ``TooFewCases`` with the reason when they cannot carry a fit."""
    pos, neg = sum(labels), len(labels) - sum(labels)
    if len(labels) < MIN_CASES or not pos or not neg:
        raise TooFewCases(f"{len(labels)} labelled questions the reader decided ({pos} answerable, {neg} unanswerable); "
                          f"calibrating needs at least {MIN_CASES}, with both kinds")
    answerable = [s for s, y in zip(scores, labels) if y]
    levels, fit = {}, {}
    for name, aim in aims.items():
        t = level_threshold(answerable, aim)
        levels[name] = {"aim": aim, "threshold": round(t, 6)}
        fit[name] = {"refused_unanswerable": sum(s < t for s, y in zip(scores, labels) if not y),
                     "refused_answerable": sum(s < t for s in answerable)}
    a, b = fit_platt(scores, labels)
    return {"levels": levels, "confidence": {"method": "platt", "a": a, "b": b}, "cases": len(labels),
            "answerable": pos, "unanswerable": neg, "fit": fit}


def calibrate_collection(settings, cases: Sequence[GoldenCase], answers: Sequence[Mapping], source: str = "") -> str:
    """Fit ``settings.collection``'s decision on labelled answers and store it beside the collection's
    manifest; returns what was stored, a line per level. ``TooFewCases`` when it cannot."""
    from rag.answer.decision import reader_fingerprint, save_decision
    from rag.answer.reader import load_reader_gate

    shipped = load_reader_gate(settings.reader_gate_file)
    scores, labels = decision_rows(cases, answers)
    decision = fit_decision(scores, labels, level_aims(shipped))
    decision.update({"reader": reader_fingerprint(settings.reader_file, shipped), "fitted_on": source,
                     "created": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    path = save_decision(settings, decision)
    lines = [f"stored collection {settings.collection!r}'s decision in {path}, fitted on {decision['cases']} questions "
             f"({decision['answerable']} answerable, {decision['unanswerable']} unanswerable):"]
    for name, level in decision["levels"].items():
        f = decision["fit"][name]
        lines.append(f"  {name:<8} aims {level['aim']:.2f}: threshold {level['threshold']:.4f}; here it refuses "
                     f"{f['refused_unanswerable']}/{decision['unanswerable']} unanswerable and "
                     f"{f['refused_answerable']}/{decision['answerable']} answerable questions")
    return "\n".join(lines)


def calibrate_on_dev(settings, cases: Sequence[GoldenCase], report: Mapping) -> dict:
    """A benchmark's ``--calibrate``: after its ``dev`` split is answered, fit and store the
    collection's decision on those answers, so the ``test`` split is answered with it (the
    feature a user gets from ``ragbot eval GOLDEN --calibrate``). Returns what the bench records:
    the stored levels and the fit's own counts."""
    import sys

    from rag.answer.decision import read_decision

    print(calibrate_collection(settings, cases, report["cases"], source=f"the benchmark's dev split ({len(cases)} questions)"),
          file=sys.stderr)
    stored = read_decision(settings) or {}
    return {key: stored.get(key) for key in ("levels", "confidence", "cases", "answerable", "unanswerable", "fit")}


CALIBRATED_NOTE = ("--calibrate: the dev split is answered with the shipped decision; the collection's own decision is then "
                   "fitted on its answers (each level's threshold at its aim, the confidence's Platt scaling) and the "
                   "test split is answered with it")


def calibration_line(figures: Mapping) -> list[str]:
    """The bench table's line on a ``--calibrate`` run's decision (none without one)."""
    fit = figures.get("calibration")
    if not fit:
        return []
    levels = ", ".join(f"{name} {level['threshold']:.4f}" for name, level in (fit.get("levels") or {}).items())
    return [f"test answered with the collection's decision fitted on dev's {fit.get('cases')} answers "
            f"({fit.get('unanswerable')} unanswerable): thresholds {levels}"]
