"""Fitting the refusal gate (``ragbot eval --calibrate``): logistic weights, regularisation and threshold.

Fitting is evaluation work: it needs labelled cases and scikit-learn, neither of which answering does.
"""
from __future__ import annotations

import numpy as np

from rag.gate import FEATURES, Gate, vetoed

C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)  # logistic regularisation strengths tried, strongest first


def _rates(answered: np.ndarray, y: np.ndarray, refused: np.ndarray) -> tuple[float, float]:
    """Answerable questions answered, unanswerable ones refused (vetoed ones count as refused)."""
    answered = answered & ~refused
    tpr = answered[y == 1].mean() if (y == 1).any() else 1.0
    tnr = (~answered[y == 0]).mean() if (y == 0).any() else 1.0
    return float(tpr), float(tnr)


def _best_threshold(scores: np.ndarray, y: np.ndarray, refused: np.ndarray) -> tuple[float, tuple[float, float]]:
    """The threshold with the best sum of both rates (ties: the better worse rate), halfway
    down to the next lower score so near-ties are not on the edge; and (sum, worse rate)."""
    best_t, best = 0.5, (-1.0, -1.0)
    for t in sorted(set(scores.tolist())) + [0.5]:
        tpr, tnr = _rates(scores >= t, y, refused)
        key = (round(tpr + tnr, 6), round(min(tpr, tnr), 6))
        if key > best:
            best, best_t = key, float(t)
    lower = scores[(scores < best_t) & ~refused]
    return ((best_t + lower.max()) / 2 if len(lower) else best_t), best


def _choose_strength(x: np.ndarray, y: np.ndarray, refused: np.ndarray):
    """The regularisation strength, its out-of-fold balanced accuracy and probabilities.

    Chosen by leave-one-out on the fitting cases: each case is scored by a model fitted without it,
    and the strength whose out-of-fold probabilities have the lowest log-loss (both classes weighted
    alike, as in the fit) wins. Log-loss, a proper score, uses every case's probability; the best
    rates at one threshold hinge on a handful of cases near it, and on 104 dev cases picked C=0.1,
    whose held-out log-loss was twice the best."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.model_selection import LeaveOneOut, StratifiedKFold, cross_val_predict

    c, cv_accuracy, oof = 1.0, None, None
    if min(int(y.sum()), int(len(y) - y.sum())) < 3:
        return c, cv_accuracy, oof
    folds = LeaveOneOut() if len(y) <= 200 else StratifiedKFold(10)
    balance = np.where(y == 1, len(y) / (2 * y.sum()), len(y) / (2 * (len(y) - y.sum())))
    best_loss = None
    for strength in C_GRID:
        model = LogisticRegression(C=strength, class_weight="balanced", max_iter=5000)
        p = cross_val_predict(model, x, y, cv=folds, method="predict_proba")[:, 1]
        loss = log_loss(y, p, sample_weight=balance, labels=[0, 1])
        if best_loss is None or loss < best_loss - 1e-9:
            best_loss, c, oof = loss, strength, p
            cv_accuracy = _best_threshold(p, y, refused)[1][0] / 2  # balanced accuracy out of fold
    return c, cv_accuracy, oof


def fit_gate(rows: list[dict[str, float]], labels: list[bool], info: dict | None = None) -> Gate:
    """Fit the gate: logistic weights on every feature (regularisation chosen by leave-one-out
    log-loss), then the threshold, set on the leave-one-out probabilities, with the best sum of
    the two rates: answerable questions answered and unanswerable ones refused (balanced accuracy).
    Both count the answer-type and follow-up rules' refusals as made, since the gate
    makes them whatever its score.

    No feature-subset search: on the 58 dev cases, nested cross-validation (5 folds, 2 seeds)
    gave 0.78-0.82 balanced accuracy when the subset was picked by leave-one-out inside each fold,
    against 0.88-0.89 for all features with the same regularisation; with a few dozen cases the
    search fits noise, and its pick flipped when the embeddings changed by a cosine of 0.01."""
    import sklearn.linear_model  # noqa: F401  (loaded before the limit: its OpenMP and scipy's
    import sklearn.metrics  # noqa: F401  BLAS, loaded inside it, would escape it and keep two threads)
    import sklearn.model_selection  # noqa: F401
    from threadpoolctl import threadpool_limits

    # One thread: hundreds of fits of a few dozen rows each, where starting threads costs 10-50x
    # the fit itself (measured on the 2-core CPU: 5 ms a fit single-threaded, 50-230 ms with two).
    with threadpool_limits(1):
        return _fit(rows, labels, info)


def _fit(rows: list[dict[str, float]], labels: list[bool], info: dict | None) -> Gate:
    from sklearn.linear_model import LogisticRegression

    y = np.array(labels, dtype=int)
    # The answer-type and follow-up rules refuse these whatever the score: they must not pull the
    # threshold up.
    refused = np.array([vetoed(r) for r in rows], dtype=bool)
    x = np.array([[r.get(f, 0.0) for f in FEATURES] for r in rows])
    c, cv_accuracy, oof = _choose_strength(x, y, refused)
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(x, y)
    weights = {f: round(float(w), 6) for f, w in zip(FEATURES, model.coef_[0])}
    bias = round(float(model.intercept_[0]), 6)
    # The threshold is set on the out-of-fold probabilities: a model scores the cases it was fitted
    # on more confidently than new ones, so a threshold set on those would be set for cases it knows.
    if oof is None:
        probe = Gate(weights, bias, 0.5, {})
        oof = np.array([probe.score(r) for r in rows])
    threshold, _ = _best_threshold(oof, y, refused)
    extra = {"C": c, "cv_balanced_accuracy": None if cv_accuracy is None else round(float(cv_accuracy), 6)}
    return Gate(weights, bias, round(float(threshold), 6), {**dict(info or {}), **extra})
