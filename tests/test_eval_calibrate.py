"""Fitting the refusal gate from an eval run's gate features."""
from __future__ import annotations

import json

import pytest

from eval.calibrate import calibrate_gate, gate_rows
from eval.golden import GoldenCase
from rag.errors import InputError
from rag.gate import FEATURES, Gate, load_gate


@pytest.fixture(autouse=True)
def quick_fit(monkeypatch):
    """eval.gate_fit.fit_gate needs scikit-learn (seconds to import); fitting is rag's to test, writing it is ours."""

    def fit(rows, labels, info=None):
        assert len(rows) == len(labels)
        return Gate({f: 1.0 for f in FEATURES}, -0.5 * len(FEATURES), 0.5, dict(info or {}))

    monkeypatch.setattr("eval.gate_fit.fit_gate", fit)


def feats(level: float) -> dict:
    return {f: level for f in FEATURES}


def cases_and_answers():
    cases, answers = [], []
    for i, level in enumerate([0.9, 0.8, 0.85, 0.7, 0.2, 0.1, 0.3, 0.25]):
        answerable = level > 0.5
        cases.append(GoldenCase(id=f"c{i}", question="q", answerable=answerable))
        answers.append({"answer": "", "refused": False, "support": {"gate_score": 0.5, "features": feats(level)}})
    return cases, answers


def test_calibrate_writes_a_gate_that_separates_the_cases(tmp_path):
    cases, answers = cases_and_answers()
    answers.append({"answer": "", "refused": True, "support": {}})  # no features: left out
    cases.append(GoldenCase(id="x", question="q"))
    out = tmp_path / "gate.json"
    summary = calibrate_gate(cases, answers, out, source="golden.jsonl split dev")
    saved = json.loads(out.read_text())
    assert saved["fitted_on"] == "golden.jsonl split dev" and saved["cases"] == 8
    gate = load_gate(out)
    assert [gate.answerable(a["support"]["features"])[0] for a in answers[:8]] == [c.answerable for c in cases[:8]]
    assert "answers 4/4 answerable and refuses 4/4 unanswerable" in summary


@pytest.mark.parametrize(
    "keep, message",
    [
        (lambda c: False, "no answer carried gate features"),
        (lambda c: c.answerable, "needs both answerable and unanswerable cases"),
    ],
)
def test_calibrate_refuses_unusable_runs(tmp_path, keep, message):
    cases, answers = cases_and_answers()
    pairs = [(c, a) for c, a in zip(cases, answers) if keep(c)]
    with pytest.raises(InputError, match=message):
        calibrate_gate([c for c, _ in pairs], [a for _, a in pairs], tmp_path / "gate.json")
    assert not (tmp_path / "gate.json").exists()


def test_gate_rows_skip_answers_without_features():
    cases, answers = cases_and_answers()
    answers[0] = {"support": {"gate_score": 0.1}}
    rows, labels = gate_rows(cases, answers)
    assert len(rows) == 7 and labels == [c.answerable for c in cases[1:]]


def test_cli_calibrate_fits_on_the_dev_split_by_default(tmp_path, monkeypatch, capsys):
    from rag.cli import main
    from rag.types import Answer

    golden = tmp_path / "g.jsonl"
    rows = [{"id": f"d{i}", "question": f"dev {i}", "answerable": i < 2, "split": "dev"} for i in range(4)]
    rows.append({"id": "t0", "question": "test 0", "split": "test"})
    golden.write_text("".join(json.dumps(r) + "\n" for r in rows))
    asked = []

    class Chain:
        def invoke(self, inp):
            asked.append(inp["question"])
            level = 0.9 if inp["question"] in ("dev 0", "dev 1") else 0.1
            return Answer(inp["question"], inp["question"], "x", False, "extractive", support={"features": feats(level)})

    monkeypatch.setattr("eval.cli._build_chain", lambda settings: Chain())
    monkeypatch.setattr("eval.runner.index_fingerprint", lambda settings: {})
    monkeypatch.chdir(tmp_path)
    code = main(["eval", str(golden), "--calibrate-gate", str(tmp_path / "gate.json")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "test 0" not in asked  # the test split stays unseen
    assert json.loads((tmp_path / "gate.json").read_text())["fitted_on"] == f"{golden} split dev"
    assert "answers 2/2 answerable and refuses 2/2 unanswerable" in out
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob("**/report.json"))
