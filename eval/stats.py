"""Uncertainty of eval figures: bootstrap intervals per metric, paired tests between two runs.

Both work on report rows (``report["cases"]``: each with ``answerable`` and per-case ``metrics``),
so a saved report.json can be re-examined without re-running it. Every aggregate metric of
:func:`eval.metrics.aggregate` is a mean of one per-case value over one population (answerable,
unanswerable or all cases), or a percentile of latency over all cases; :data:`METRIC_SOURCES`
says which, and :func:`case_values` turns rows into that column.

* Intervals: percentile bootstrap, cases resampled with replacement (all cases at once, so the
  answerable/unanswerable mix varies as it would in another draw of questions), fixed seed.
* Paired tests, on the cases both runs share (by id): McNemar's exact test (a two-sided binomial
  test on the discordant pairs) for pass/fail metrics; for the others a paired bootstrap of the
  difference, with the p-value from the resampled differences re-centred on zero.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .metrics import METRIC_NAMES

RESAMPLES = 1000
SEED = 20181
LEVEL = 0.95
ALPHA = 0.05

# aggregate metric -> (per-case key, population the mean runs over)
METRIC_SOURCES: dict[str, tuple[str, str]] = {
    "hit@1": ("hit@1", "answerable"),
    "hit@5": ("hit@5", "answerable"),
    "mrr@10": ("mrr@10", "answerable"),
    "ndcg@10": ("ndcg@10", "answerable"),
    "must_include_recall": ("must_include_recall", "answerable"),
    "answer_pass_rate": ("answer_pass", "answerable"),
    "token_f1": ("token_f1", "answerable"),
    "citation_precision": ("citation_precision", "answerable"),
    "faithfulness": ("faithfulness", "answerable"),
    "refusal_accuracy": ("refused", "unanswerable"),
    "false_refusal_rate": ("refused", "answerable"),
    "latency_p50_ms": ("latency_ms", "all"),
    "latency_p95_ms": ("latency_ms", "all"),
}
# Per-case values that are 0/1 by construction: their paired comparison is McNemar's.
BINARY_METRICS = frozenset({"hit@1", "hit@5", "answer_pass_rate", "refusal_accuracy", "false_refusal_rate"})
_PERCENTILE = {"latency_p50_ms": 50.0, "latency_p95_ms": 95.0}


def case_values(rows: Sequence[Mapping], name: str) -> np.ndarray:
    """The per-case column behind aggregate metric ``name``: floats, NaN where it does not apply."""
    key, population = METRIC_SOURCES[name]
    out = np.full(len(rows), np.nan)
    for i, row in enumerate(rows):
        answerable = bool(row.get("answerable", True))
        if (population == "answerable" and not answerable) or (population == "unanswerable" and answerable):
            continue
        value = (row.get("metrics") or {}).get(key)
        if isinstance(value, (bool, int, float)):
            out[i] = float(value)
    return out


def _nan_percentile_rows(x: np.ndarray, q: float) -> np.ndarray:
    """``np.nanpercentile(x, q, axis=1)`` (its default, linear interpolation) for rows that each
    hold a value: numpy computes it one row at a time in Python, 3.6 s for a report's bootstrap."""
    ordered = np.sort(x, axis=1)  # NaN sorts last
    n = (~np.isnan(x)).sum(axis=1)
    position = (n - 1) * (q / 100.0)
    lo = np.floor(position).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    rows = np.arange(x.shape[0])
    return ordered[rows, lo] + (ordered[rows, hi] - ordered[rows, lo]) * (position - lo)


def _statistic(name: str, samples: np.ndarray) -> np.ndarray:
    """The metric of each row of ``samples`` (resamples x cases, NaN = not counted); NaN when nothing counts."""
    counted = ~np.isnan(samples)
    n = counted.sum(axis=1)
    result = np.full(samples.shape[0], np.nan)
    ok = n > 0
    if not ok.any():
        return result
    if name in _PERCENTILE:
        with np.errstate(all="ignore"):
            result[ok] = _nan_percentile_rows(samples[ok], _PERCENTILE[name])
    else:
        result[ok] = np.where(counted, samples, 0.0).sum(axis=1)[ok] / n[ok]
    return result


def point(name: str, values: np.ndarray) -> float | None:
    """The metric over one column of case values (as :func:`eval.metrics.aggregate` computes it)."""
    v = _statistic(name, values[None, :])[0]
    return None if np.isnan(v) else float(v)


def _resample_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def bootstrap_intervals(
    rows: Sequence[Mapping],
    names: Sequence[str] = METRIC_NAMES,
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> dict[str, list[float] | None]:
    """``{metric: [lo, hi]}``: percentile-bootstrap interval over resampled cases; None when not computable."""
    out: dict[str, list[float] | None] = {}
    if not rows:
        return {name: None for name in names}
    idx = _resample_indices(len(rows), resamples, seed)  # one draw shared by all metrics
    tail = (1 - level) / 2 * 100
    for name in names:
        if name not in METRIC_SOURCES:
            continue
        values = case_values(rows, name)
        if np.isnan(values).all():
            out[name] = None
            continue
        stats = _statistic(name, values[idx])
        stats = stats[~np.isnan(stats)]
        lo, hi = np.percentile(stats, [tail, 100 - tail])
        out[name] = [round(float(lo), 6), round(float(hi), 6)]
    return out


@dataclass(frozen=True)
class PairedTest:
    """One metric compared on the cases two runs share."""

    name: str
    test: str  # "mcnemar", "paired bootstrap" or "n/a"
    n: int  # cases where both runs have a value
    diff: float | None  # new - old on those cases
    p_value: float | None
    detail: str = ""  # McNemar: discordant pairs; bootstrap: the difference's interval

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < ALPHA


def mcnemar_exact(old: np.ndarray, new: np.ndarray) -> tuple[float, int, int]:
    """Two-sided exact McNemar p-value for paired 0/1 outcomes, with the counts (old 1 -> new 0, old 0 -> new 1)."""
    from scipy.stats import binomtest

    lost = int(np.sum((old > 0.5) & (new < 0.5)))
    gained = int(np.sum((old < 0.5) & (new > 0.5)))
    if lost + gained == 0:
        return 1.0, lost, gained
    return float(binomtest(min(lost, gained), lost + gained, 0.5).pvalue), lost, gained


def paired_bootstrap(
    name: str, old: np.ndarray, new: np.ndarray, *, resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL
) -> tuple[float, float, list[float]]:
    """``(difference, p-value, [lo, hi])`` of new - old under resampling of the paired cases.

    The p-value is the share of resampled differences at least as far from the observed one as
    the observed one is from zero (the bootstrap distribution shifted to the null), with the
    usual +1 correction so it is never exactly 0.
    """
    diff = point(name, new) - point(name, old)
    idx = _resample_indices(len(old), resamples, seed)
    boot = _statistic(name, new[idx]) - _statistic(name, old[idx])
    boot = boot[~np.isnan(boot)]
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(boot, [tail, 100 - tail])
    if abs(diff) < 1e-12:
        p = 1.0
    else:
        p = (1 + int(np.sum(np.abs(boot - diff) >= abs(diff)))) / (len(boot) + 1)
    return diff, p, [round(float(lo), 4), round(float(hi), 4)]


def paired_test(name: str, old_rows: Sequence[Mapping], new_rows: Sequence[Mapping], **kw) -> PairedTest:
    """Compare metric ``name`` between two runs whose rows are aligned (same case at the same index)."""
    old, new = case_values(old_rows, name), case_values(new_rows, name)
    both = ~np.isnan(old) & ~np.isnan(new)
    old, new = old[both], new[both]
    n = int(both.sum())
    if n == 0:
        return PairedTest(name, "n/a", 0, None, None)
    if name in BINARY_METRICS:
        p, lost, gained = mcnemar_exact(old, new)
        diff = float(new.mean() - old.mean())
        return PairedTest(name, "mcnemar", n, diff, p, f"{lost} went 1->0, {gained} went 0->1")
    diff, p, (lo, hi) = paired_bootstrap(name, old, new, **kw)
    return PairedTest(name, "paired bootstrap", n, diff, p, f"95% CI of diff [{lo:+.4g}, {hi:+.4g}]")


def paired_tests(old: Mapping, new: Mapping, names: Sequence[str] = METRIC_NAMES, **kw) -> list[PairedTest]:
    """Every metric of two reports, tested on the case ids both hold."""
    old_by_id = {c.get("id"): c for c in old.get("cases", [])}
    shared = [c for c in new.get("cases", []) if c.get("id") in old_by_id]
    old_rows = [old_by_id[c.get("id")] for c in shared]
    return [paired_test(name, old_rows, shared, **kw) for name in names if name in METRIC_SOURCES]
