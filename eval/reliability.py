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


def answer_reliability(answerable: Sequence[bool], answers: Sequence[Mapping]) -> dict:
    """Reliability of the answers' ``confidence`` against whether each question was answerable;
    answers without a confidence (nothing was read, or an answer core without one) are left out."""
    pairs = [(float(a["confidence"]), y) for y, a in zip(answerable, answers)
             if isinstance(a.get("confidence"), (int, float)) and not isinstance(a.get("confidence"), bool)]
    return reliability([p for p, _ in pairs], [y for _, y in pairs])
