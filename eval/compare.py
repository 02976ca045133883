"""Compare two eval reports: metric deltas, paired significance tests (eval/stats.py) and the cases that changed."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .metrics import LOWER_IS_BETTER, METRIC_NAMES
from .report import fmt
from .stats import ALPHA, paired_tests

EPSILON = 1e-9


@dataclass(frozen=True)
class MetricDelta:
    """One metric in both reports."""

    name: str
    old: float | None
    new: float | None

    @property
    def delta(self) -> float | None:
        return None if self.old is None or self.new is None else self.new - self.old

    @property
    def verdict(self) -> str:
        """better, worse or same, knowing which way the metric should go."""
        d = self.delta
        if d is None:
            return "n/a"
        if abs(d) < EPSILON:
            return "same"
        better = d < 0 if self.name in LOWER_IS_BETTER else d > 0
        return "better" if better else "worse"


@dataclass(frozen=True)
class CaseChange:
    """One case whose outcome on one aspect (answer_pass, refusal, hit@5) changed."""

    id: str
    aspect: str
    old: str
    new: str
    change: str  # "improved" or "regressed"


def _aspects(case: Mapping) -> dict[str, bool | None]:
    """Per-case outcomes compared between reports; True is good."""
    m = case.get("metrics") or {}
    answerable = bool(case.get("answerable", True))
    hit = m.get("hit@5")
    return {
        "answer_pass": m.get("answer_pass") if answerable else None,
        "refusal": bool(case.get("refused")) != answerable,  # refused exactly when it should be
        "hit@5": None if hit is None else hit >= 1.0,
    }


_SHOW = {
    "answer_pass": ("fail", "pass"),
    "refusal": ("wrong", "right"),
    "hit@5": ("miss", "hit"),
}


def compare_reports(old: Mapping, new: Mapping) -> dict:
    """Metric deltas (all metric names in either report) and per-case changes for ids in both."""
    names = list(METRIC_NAMES) + sorted((set(old["metrics"]) | set(new["metrics"])) - set(METRIC_NAMES))
    deltas = [MetricDelta(n, old["metrics"].get(n), new["metrics"].get(n)) for n in names]
    old_cases = {c.get("id"): c for c in old["cases"]}
    new_cases = {c.get("id"): c for c in new["cases"]}
    changes: list[CaseChange] = []
    for cid, nc in new_cases.items():
        oc = old_cases.get(cid)
        if oc is None:
            continue
        before, after = _aspects(oc), _aspects(nc)
        for aspect, labels in _SHOW.items():
            b, a = before[aspect], after[aspect]
            if b is None or a is None or b == a:
                continue
            changes.append(CaseChange(str(cid), aspect, labels[b], labels[a], "improved" if a else "regressed"))
    return {
        "metrics": deltas,
        "tests": paired_tests(old, new),
        "changes": changes,
        "only_old": sorted(str(i) for i in set(old_cases) - set(new_cases)),
        "only_new": sorted(str(i) for i in set(new_cases) - set(old_cases)),
    }


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return [line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows]


def _diff(name: str, value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.0f}" if name.endswith("_ms") else f"{value:+.4f}"


def format_comparison(result: Mapping) -> str:
    """The comparison as plain-text tables."""
    rows = []
    for d in result["metrics"]:
        delta = "n/a" if d.delta is None else f"{d.delta:+.0f}" if d.name.endswith("_ms") else f"{d.delta:+.4f}"
        rows.append([d.name, fmt(d.name, d.old), fmt(d.name, d.new), delta, d.verdict])
    out = _table(["metric", "old", "new", "delta", ""], rows)
    tests = result.get("tests") or []
    if tests:
        n = max(t.n for t in tests)
        out += ["", f"paired tests on the cases both runs share (up to {n}; significant: p < {ALPHA:g}; "
                "McNemar's exact test for pass/fail metrics, paired bootstrap for the rest)"]
        out += _table(
            ["metric", "n", "test", "diff", "p", "significant", "detail"],
            [[t.name, str(t.n), t.test, _diff(t.name, t.diff), "n/a" if t.p_value is None else f"{t.p_value:.3g}",
              "n/a" if t.p_value is None else "yes" if t.significant else "no", t.detail] for t in tests],
        )
    changes = result["changes"]
    improved = sum(c.change == "improved" for c in changes)
    out += ["", f"case changes: {improved} improved, {len(changes) - improved} regressed"]
    if changes:
        ordered = sorted(changes, key=lambda c: (c.change != "regressed", c.aspect, c.id))
        out += _table(["id", "aspect", "old", "new", "change"], [[c.id, c.aspect, c.old, c.new, c.change] for c in ordered])
    if result["only_old"]:
        out.append(f"only in old: {', '.join(result['only_old'])}")
    if result["only_new"]:
        out.append(f"only in new: {', '.join(result['only_new'])}")
    return "\n".join(out)
