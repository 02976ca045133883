"""How well an answer's confidence is calibrated: reliability bins and expected calibration error.

A confidence p is calibrated when the questions given p are answerable about p of the time. The
bins split [0, 1] into ten equal widths; the expected calibration error (ECE) is the mean, weighted
by how many questions fall in a bin, of the gap between the bin's mean confidence and its share
of answerable questions.
"""
from __future__ import annotations

from typing import Mapping, Sequence

BINS = 10


def reliability(confidences: Sequence[float], labels: Sequence[bool], bins: int = BINS) -> dict:
    """``{"n", "ece", "bins": [{"lo", "hi", "n", "confidence", "answerable"}]}`` (empty bins left out;
    ``ece`` is None without any confidence)."""
    if len(confidences) != len(labels):
        raise ValueError(f"{len(confidences)} confidences but {len(labels)} labels")
    groups: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for p, y in zip(confidences, labels):
        groups[min(int(float(p) * bins), bins - 1)].append((float(p), bool(y)))
    n = len(confidences)
    out, ece = [], 0.0
    for i, g in enumerate(groups):
        if not g:
            continue
        conf = sum(p for p, _ in g) / len(g)
        share = sum(y for _, y in g) / len(g)
        ece += len(g) / n * abs(conf - share)
        out.append({"lo": i / bins, "hi": (i + 1) / bins, "n": len(g), "confidence": round(conf, 4),
                    "answerable": round(share, 4)})
    return {"n": n, "ece": round(ece, 4) if n else None, "bins": out}


def ece_if_calibrated(confidences: Sequence[float], bins: int = BINS, draws: int = 1000, seed: int = 0) -> float | None:
    """The ECE a perfectly calibrated confidence would show on these questions: the mean ECE when
    each question is answerable with exactly its confidence's probability (``draws`` seeded draws).
    On a few dozen questions it is far from 0, so an ECE near it is no evidence of miscalibration."""
    import numpy as np

    if not len(confidences):
        return None
    p = np.clip(np.asarray(confidences, dtype=float), 0.0, 1.0)
    which = np.minimum((p * bins).astype(int), bins - 1)
    labels = np.random.default_rng(seed).random((draws, len(p))) < p
    ece = np.zeros(draws)
    for b in np.unique(which):
        inside = which == b
        ece += inside.sum() / len(p) * np.abs(p[inside].mean() - labels[:, inside].mean(axis=1))
    return round(float(ece.mean()), 4)


def answer_reliability(answerable: Sequence[bool], answers: Sequence[Mapping]) -> dict:
    """Reliability of the answers' ``confidence`` against whether each question was answerable;
    answers without a confidence (nothing was read, or an answer core without one) are left out."""
    pairs = [(float(a["confidence"]), y) for y, a in zip(answerable, answers)
             if isinstance(a.get("confidence"), (int, float)) and not isinstance(a.get("confidence"), bool)]
    out = reliability([p for p, _ in pairs], [y for _, y in pairs])
    out["ece_if_calibrated"] = ece_if_calibrated([p for p, _ in pairs])
    return out
