"""The answerability gate: a logistic model over the evidence features, and the two rules that veto it.

Its weights and threshold are fitted on the dev split of the golden set by ``ragbot eval
--calibrate`` (eval/gate_fit.py) and shipped in ``rag/data/gate.json``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..packaged import read_fitted
from .features import FEATURES

NOVELTY_MIN = 0.5  # a follow-up's answer must be at least this share new to the conversation


def vetoed(feats: dict[str, float]) -> bool:
    """The rules that refuse whatever the score: a "when" or "how many" question whose best evidence
    holds no date or number is not answered by it, however close the topic; nor is a follow-up whose
    answer says nothing new (``novelty``, when measured)."""
    return feats.get("answer_type", 1.0) < 0.5 or feats.get("novelty", 1.0) < NOVELTY_MIN


@dataclass(frozen=True)
class Gate:
    weights: dict
    bias: float
    threshold: float
    info: dict

    def score(self, feats: dict[str, float]) -> float:
        z = self.bias + sum(self.weights.get(f, 0.0) * feats.get(f, 0.0) for f in FEATURES)
        return 1.0 / (1.0 + math.exp(-z))

    def answerable(self, feats: dict[str, float]) -> tuple[bool, float]:
        s = self.score(feats)
        if vetoed(feats):
            return False, min(s, self.threshold * 0.99)
        return s >= self.threshold, s

    def to_dict(self) -> dict:
        return {"features": list(FEATURES), "weights": self.weights, "bias": self.bias, "threshold": self.threshold, **self.info}


def load_gate(path: str | Path | None = None) -> Gate:
    """The fitted gate from ``path`` or the packaged file."""
    return _load_gate(str(path) if path else None)


@lru_cache(maxsize=8)
def _load_gate(path: str | None) -> Gate:
    d, info = read_fitted(path, "gate.json", ("weights", "bias", "threshold"))
    info.pop("features", None)
    return Gate(dict(d["weights"]), float(d["bias"]), float(d["threshold"]), info)
