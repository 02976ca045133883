"""Bootstrap intervals on eval metrics and paired tests between two runs (eval/stats.py)."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from eval import stats
from eval.compare import compare_reports, format_comparison
from eval.golden import GoldenCase
from eval.metrics import METRIC_NAMES, aggregate
from eval.report import write_reports
from eval.runner import build_report
from rag.cli import main


def row(i: int, answerable: bool = True, passed: bool = False, refused: bool = False, f1: float = 0.0,
        hit: float = 1.0, ms: float = 50.0) -> dict:
    """One report case with per-case metrics as eval.metrics.case_metrics shapes them."""
    m = {name: None for name in ("hit@1", "hit@5", "mrr@10", "ndcg@10", "must_include_recall", "answer_pass",
                                 "token_f1", "citation_precision", "faithfulness")}
    if answerable:
        m.update({"hit@1": hit, "hit@5": hit, "mrr@10": hit / 2, "ndcg@10": hit / 3,
                  "must_include_recall": float(passed), "answer_pass": passed, "token_f1": f1,
                  "citation_precision": hit, "faithfulness": None if refused else 1.0})
    m.update({"refused": refused, "latency_ms": ms, "correct": passed if answerable else refused})
    return {"id": f"c{i}", "answerable": answerable, "metrics": m}


def mixed_rows(n: int = 60, seed: int = 3) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        answerable = i % 3 != 0
        refused = bool(rng.random() < 0.3)
        passed = answerable and not refused and bool(rng.random() < 0.7)
        rows.append(row(i, answerable, passed, refused, f1=float(rng.random()) if answerable else 0.0,
                        hit=float(rng.random() < 0.8), ms=float(rng.uniform(10, 200))))
    return rows


def test_case_values_reproduce_every_aggregate_metric():
    rows = mixed_rows()
    cases = [GoldenCase(r["id"], "q?", r["answerable"]) for r in rows]
    expected = aggregate(cases, [r["metrics"] for r in rows])
    assert set(stats.METRIC_SOURCES) == set(METRIC_NAMES)
    for name in METRIC_NAMES:
        assert stats.point(name, stats.case_values(rows, name)) == pytest.approx(expected[name]), name


def test_bootstrap_intervals_hold_the_estimate_and_repeat_with_the_seed():
    rows = mixed_rows()
    cases = [GoldenCase(r["id"], "q?", r["answerable"]) for r in rows]
    m = aggregate(cases, [r["metrics"] for r in rows])
    ci = stats.bootstrap_intervals(rows)
    assert ci == stats.bootstrap_intervals(rows)
    assert ci["faithfulness"] is not None
    for name in METRIC_NAMES:
        lo, hi = ci[name]
        assert lo <= m[name] + 1e-9 and m[name] - 1e-9 <= hi, name
        assert lo < hi or name == "faithfulness", name  # faithfulness is 1.0 on every case here
    assert ci != stats.bootstrap_intervals(rows, seed=stats.SEED + 1)
    wide = stats.bootstrap_intervals(mixed_rows(30))["answer_pass_rate"]
    narrow = stats.bootstrap_intervals(mixed_rows(600))["answer_pass_rate"]
    assert narrow[1] - narrow[0] < (wide[1] - wide[0]) / 3


def test_bootstrap_of_a_constant_is_a_point_and_a_metric_without_cases_has_none():
    rows = [row(i, passed=True) for i in range(20)]
    ci = stats.bootstrap_intervals(rows)
    assert ci["answer_pass_rate"] == [1.0, 1.0]
    assert ci["refusal_accuracy"] is None  # no unanswerable case
    assert stats.bootstrap_intervals([])["hit@5"] is None


def _report(rows: list[dict]) -> dict:
    return {"metrics": {}, "cases": rows}


def _by_name(tests):
    return {t.name: t for t in tests}


def test_paired_tests_find_a_real_difference():
    old = [row(i, passed=False, f1=0.1 + 0.01 * (i % 5)) for i in range(40)]
    new = [row(i, passed=i < 30, f1=0.5 + 0.01 * (i % 7)) for i in range(40)]
    tests = _by_name(stats.paired_tests(_report(old), _report(new)))
    passed = tests["answer_pass_rate"]
    assert passed.test == "mcnemar" and passed.n == 40 and passed.diff == pytest.approx(0.75)
    assert passed.p_value == pytest.approx(2 * 0.5 ** 30)
    assert passed.significant and "30 went 0->1" in passed.detail
    f1 = tests["token_f1"]
    assert f1.test == "paired bootstrap" and f1.significant and f1.p_value < 0.01
    assert tests["hit@5"].p_value == 1.0 and not tests["hit@5"].significant  # identical retrieval
    assert tests["refusal_accuracy"].test == "n/a"  # no unanswerable case in either run


def test_paired_tests_do_not_call_noise_a_difference():
    rng = np.random.default_rng(7)
    base = rng.random(50)
    old = [row(i, passed=i in (0, 1, 2, 10, 11), f1=float(base[i])) for i in range(50)]
    # 3 cases gained, 2 lost; token F1 jitters by +-0.05 at random.
    new = [row(i, passed=i in (0, 1, 2, 20, 21, 22), f1=float(base[i] + rng.choice([-0.05, 0.05]))) for i in range(50)]
    tests = _by_name(stats.paired_tests(_report(old), _report(new)))
    assert tests["answer_pass_rate"].p_value == pytest.approx(1.0)  # 3 vs 2 discordant: binomial p = 1
    assert not tests["answer_pass_rate"].significant
    assert not tests["token_f1"].significant and tests["token_f1"].p_value > 0.2


def test_paired_tests_pair_cases_by_id_not_by_position():
    old = [row(i, passed=i % 2 == 0) for i in range(30)]
    new = list(reversed(old)) + [row(99, passed=True)]
    passed = _by_name(stats.paired_tests(_report(old), _report(new)))["answer_pass_rate"]
    assert passed.n == 30 and passed.p_value == 1.0 and passed.diff == 0.0


def _full_report(rows: list[dict]) -> dict:
    cases = [GoldenCase(r["id"], "q?", r["answerable"]) for r in rows]
    return {"metrics": aggregate(cases, [r["metrics"] for r in rows]), "cases": rows}


def test_compare_prints_the_paired_tests(tmp_path, capsys):
    old = _full_report([row(i, passed=False) for i in range(40)])
    new = _full_report([row(i, passed=i < 30) for i in range(40)])
    result = compare_reports(old, new)
    text = format_comparison(result)
    assert "metric" in text.splitlines()[0] and "case changes: 30 improved, 0 regressed" in text  # the old output stays
    line = next(l for l in text.splitlines() if l.startswith("answer_pass_rate") and "mcnemar" in l)
    assert line.split()[1:6] == ["40", "mcnemar", "+0.7500", f"{2 * 0.5 ** 30:.3g}", "yes"]
    hit = next(l for l in text.splitlines() if l.startswith("hit@5 ") and "mcnemar" in l)
    assert hit.split()[4:6] == ["1", "no"]

    a, b = tmp_path / "old.json", tmp_path / "new.json"
    a.write_text(json.dumps(old))
    b.write_text(json.dumps(new))
    assert main(["eval", "--compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "paired tests on the cases both runs share" in out
    assert re.search(r"^answer_pass_rate\s+40\s+mcnemar\s+\+0\.7500\s+\S+\s+yes", out, re.M)


def test_reports_carry_intervals_in_json_markdown_and_html(tmp_path):
    cases = [GoldenCase(f"c{i}", f"question {i}?", i % 4 != 0, must_include_any=(("Nye",),)) for i in range(20)]
    answers = []
    for i, c in enumerate(cases):
        text = "Joseph Nye [1]." if i % 2 else "Someone else [1]."
        answers.append(({"question": c.question, "answer": text, "refused": i % 5 == 0, "citations": [],
                         "retrieved": [], "timings_ms": {"total": 10.0 + i}}, 0.0, ""))
    report = build_report(cases, answers)
    assert list(report["metrics"]) == list(METRIC_NAMES)  # metrics unchanged
    ci = report["metrics_ci"]
    assert set(ci) == set(METRIC_NAMES)
    lo, hi = ci["answer_pass_rate"]
    assert lo <= report["metrics"]["answer_pass_rate"] <= hi
    paths = write_reports(report, tmp_path)
    assert json.loads(paths["json"].read_text())["metrics_ci"] == ci
    md = paths["md"].read_text()
    assert "| metric | value | 95% CI |" in md
    assert f"| answer_pass_rate | {report['metrics']['answer_pass_rate']:.3f} | {lo:.3f}-{hi:.3f} |" in md
    assert "| hit@5 | n/a |  |" in md  # no evidence: no figure, no interval
    assert f"{lo:.3f}-{hi:.3f}" in paths["html"].read_text()


def test_row_percentiles_match_numpys_nanpercentile():
    from eval.stats import _nan_percentile_rows

    rng = np.random.default_rng(0)
    x = rng.random((200, 17)) * 100
    x[rng.random(x.shape) < 0.3] = np.nan
    x = x[(~np.isnan(x)).sum(axis=1) > 0]
    for q in (0, 37.5, 50, 95, 100):
        assert np.allclose(_nan_percentile_rows(x, q), np.nanpercentile(x, q, axis=1), rtol=0, atol=1e-9)
