"""Gradient-boosted trees as plain data: fitted by scikit-learn at training time, evaluated with numpy here.

Hand-written on purpose: a pickled scikit-learn model loads only under the version that wrote it
(and unpickling runs code), while these arrays load anywhere and are read by twenty lines.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TreeEnsemble:
    """Binary classifier: ``baseline`` plus the leaf values of every tree, through a logistic link."""

    baseline: float
    feature: tuple[np.ndarray, ...]  # per tree, per node: the feature tested (leaves: -1)
    threshold: tuple[np.ndarray, ...]  # go left when the value is <= threshold
    left: tuple[np.ndarray, ...]
    right: tuple[np.ndarray, ...]
    value: tuple[np.ndarray, ...]  # a leaf's contribution to the log-odds

    def log_odds(self, x: np.ndarray) -> np.ndarray:
        """The raw score of each row of ``x`` (rows x features): every row walks every tree at once,
        one level per step."""
        x = np.asarray(x, dtype=np.float64)
        if not len(x):
            return np.zeros(0)
        feat, thr, left, right, value, roots = self._packed()
        node = np.broadcast_to(roots, (len(x), len(roots))).copy()
        rows = np.arange(len(x))[:, None]
        while True:
            f = feat[node]
            inner = f >= 0
            if not inner.any():
                break
            go_left = x[rows, np.maximum(f, 0)] <= thr[node]
            node = np.where(inner, np.where(go_left, left[node], right[node]), node)
        return self.baseline + value[node].sum(axis=1)

    def _packed(self) -> tuple[np.ndarray, ...]:
        """All trees in one set of node arrays (child indices shifted), and each tree's root."""
        if not hasattr(self, "_pack"):
            sizes = [len(f) for f in self.feature]
            roots = np.cumsum([0] + sizes[:-1])
            shift = lambda arrays: np.concatenate([a + r for a, r in zip(arrays, roots)])  # noqa: E731
            pack = (np.concatenate(self.feature), np.concatenate(self.threshold), shift(self.left), shift(self.right),
                    np.concatenate(self.value), roots)
            object.__setattr__(self, "_pack", pack)  # a cache on a frozen record, made once
        return self._pack

    def probability(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.log_odds(x)))

    def to_dict(self) -> dict:
        trees = [
            {"feature": f.tolist(), "threshold": t.tolist(), "left": l.tolist(), "right": r.tolist(), "value": v.tolist()}
            for f, t, l, r, v in zip(self.feature, self.threshold, self.left, self.right, self.value)
        ]
        return {"baseline": self.baseline, "trees": trees}

    @classmethod
    def from_dict(cls, d: dict) -> "TreeEnsemble":
        trees = d["trees"]
        arr = lambda key, dtype: tuple(np.asarray(t[key], dtype=dtype) for t in trees)  # noqa: E731
        return cls(float(d["baseline"]), arr("feature", np.int64), arr("threshold", np.float64),
                   arr("left", np.int64), arr("right", np.int64), arr("value", np.float64))

    @classmethod
    def from_sklearn(cls, model) -> "TreeEnsemble":
        """From a fitted binary ``HistGradientBoostingClassifier`` (numerical features, no missing values)."""
        feats, thrs, lefts, rights, values = [], [], [], [], []
        for (predictor,) in model._predictors:
            nodes = predictor.nodes
            feats.append(np.where(nodes["is_leaf"], -1, nodes["feature_idx"]).astype(np.int64))
            thrs.append(nodes["num_threshold"].astype(np.float64))
            lefts.append(nodes["left"].astype(np.int64))
            rights.append(nodes["right"].astype(np.int64))
            values.append(nodes["value"].astype(np.float64))
        baseline = float(np.ravel(model._baseline_prediction)[0])
        return cls(baseline, tuple(feats), tuple(thrs), tuple(lefts), tuple(rights), tuple(values))
