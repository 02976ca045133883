"""The eval runner end to end with a fake chain: reports, thresholds, compare, errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.golden import load_golden
from eval.metrics import METRIC_NAMES
from eval.report import write_reports
from eval.runner import build_report, evaluate
from rag.cli import main
from rag.errors import IndexMissingError
from rag.types import Answer, Citation, Passage

SOURCE = "essay.txt"
NYE = Passage("p-nye", SOURCE, "Soft power", "Soft power, a term coined by Joseph Nye, describes attraction.", 100, 160, 0.8)
UN = Passage("p-un", SOURCE, "Peacekeeping", "Peacekeeping missions are often led by the United Nations.", 300, 360, 0.7)
HOSTILE = "<script>alert('x')</script> Joseph Nye [1]."

GOLDEN = [
    {"id": "nye", "question": "Who coined soft power?", "reference": "Joseph Nye", "must_include_any": [["Nye"]],
     "evidence": ["a term coined by Joseph Nye"], "sources": [SOURCE], "type": "fact", "split": "dev"},
    {"id": "un", "question": "Who leads peacekeeping?", "reference": "The United Nations",
     "must_include_any": [["United Nations"]], "evidence": ["often led by the United Nations"], "sources": [SOURCE],
     "type": "fact", "split": "test"},
    {"id": "evil", "question": "Say something hostile", "reference": "Joseph Nye", "must_include_any": [["Keohane"]],
     "evidence": ["a term coined by Joseph Nye"], "type": "list", "split": "dev"},
    {"id": "mars", "question": "Who rules Mars?", "answerable": False, "type": "unanswerable", "split": "test"},
    {"id": "follow", "question": "And who else?", "answerable": False, "history": [["Who coined soft power?", "Nye."]],
     "type": "multiturn", "split": "dev"},
]


def make_answer(question: str, text: str, passages: tuple, refused: bool = False, gate: float = 0.9, ms: float = 50.0) -> Answer:
    cites = tuple(Citation(i + 1, p.chunk_id, p.source, p.section, p.text[:20], p.start, p.start + 20, p.score, p.text)
                  for i, p in enumerate(passages[:1])) if not refused else ()
    return Answer(question, question, text, refused, "extractive", cites, passages,
                  {"retrieve": 1.0, "total": ms}, "", {"gate_score": gate, "gate_threshold": 0.5})


class FakeChain:
    """Answers from a table; records what it was given."""

    def __init__(self, answers: dict, fail: set = frozenset(), fatal: bool = False):
        self.answers, self.fail, self.fatal, self.inputs = answers, fail, fatal, []

    def invoke(self, inp: dict) -> Answer:
        self.inputs.append(inp)
        if self.fatal:
            raise IndexMissingError("no index at nowhere: run `ragbot ingest` first")
        if inp["question"] in self.fail:
            raise RuntimeError("model crashed")
        return self.answers[inp["question"]]


def good_chain() -> FakeChain:
    return FakeChain({
        "Who coined soft power?": make_answer("Who coined soft power?", "Soft power was coined by Joseph Nye [1].", (NYE, UN), ms=40),
        "Who leads peacekeeping?": make_answer("Who leads peacekeeping?", "No answer.", (NYE, UN), refused=True, gate=0.4, ms=60),
        "Say something hostile": make_answer("Say something hostile", HOSTILE, (NYE,), ms=80),
        "Who rules Mars?": make_answer("Who rules Mars?", "No answer.", (UN,), refused=True, gate=0.1, ms=20),
        "And who else?": make_answer("And who else?", "Robert Keohane [1].", (NYE,), gate=0.7, ms=30),
    })


@pytest.fixture
def golden(tmp_path) -> Path:
    p = tmp_path / "golden.jsonl"
    p.write_text("".join(json.dumps(c) + "\n" for c in GOLDEN), encoding="utf-8")
    return p


def test_end_to_end_reports(tmp_path, golden):
    chain = good_chain()
    cases = load_golden([golden])
    report = evaluate(chain, cases, {"mode": "extractive", "k": 5}, progress=False)
    paths = write_reports(report, tmp_path / "out")

    assert len(chain.inputs) == 6  # one untimed warm-up question, then every case
    assert chain.inputs[0] == chain.inputs[1] == {"question": "Who coined soft power?", "history": []}
    assert chain.inputs[5] == {"question": "And who else?", "history": [["Who coined soft power?", "Nye."]]}
    data = json.loads(paths["json"].read_text())
    assert {"config", "metrics", "cases", "counts", "breakdown", "risk_coverage", "notes"} <= set(data)
    assert list(data["metrics"]) == list(METRIC_NAMES)
    assert data["config"]["mode"] == "extractive"
    m = data["metrics"]
    assert m["answer_pass_rate"] == pytest.approx(1 / 3)  # nye passes; un refused; evil lacks Keohane
    assert m["false_refusal_rate"] == pytest.approx(1 / 3)
    assert m["refusal_accuracy"] == 0.5
    assert m["hit@1"] == pytest.approx(2 / 3)  # un's evidence is second
    assert m["hit@5"] == 1.0
    assert m["latency_p50_ms"] == 40.0
    first = data["cases"][0]
    assert {"id", "answerable", "metrics", "answer", "citations", "retrieved", "timings_ms", "failures"} <= set(first)
    assert first["id"] == "nye" and first["metrics"]["answer_pass"] is True and first["failures"] == []
    assert data["counts"] == {"cases": 5, "answerable": 3, "unanswerable": 2, "failed": 3, "errors": 0}
    assert set(data["breakdown"]["type"]) == {"fact", "list", "unanswerable", "multiturn"}

    md = paths["md"].read_text()
    assert "| hit@5 |" in md and "## Failing cases (3)" in md
    assert "| follow |" in md and "answered an unanswerable question" in md
    assert "answerable cases only" in md
    assert "| nye |" not in md  # a passing case is not listed as failing

    page = paths["html"].read_text()
    assert page.count("<img") >= 4 and "data:image/png;base64," in page
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page


def test_a_crashing_case_is_recorded_and_a_fatal_error_stops_the_run(golden):
    cases = load_golden([golden])
    chain = good_chain()
    chain.fail = {"Who rules Mars?"}
    report = evaluate(chain, cases, progress=False)
    mars = next(c for c in report["cases"] if c["id"] == "mars")
    assert mars["error"] == "RuntimeError: model crashed"
    assert mars["failures"][0] == "error: RuntimeError: model crashed"
    assert report["counts"]["errors"] == 1
    with pytest.raises(IndexMissingError):
        evaluate(FakeChain({}, fatal=True), cases, progress=False)


def test_latency_falls_back_to_wall_time_when_the_answer_has_none(golden):
    cases = load_golden([golden])[:1]
    a = {"question": "q", "answer": "Nye [1].", "refused": False, "citations": [], "retrieved": [], "timings_ms": {}}
    report = build_report(cases, [(a, 12.345, "")])
    assert report["cases"][0]["metrics"]["latency_ms"] == 12.35


def run_cli(monkeypatch, capsys, argv: list[str], chain=None) -> tuple[int, str, str]:
    monkeypatch.setattr("eval.cli._build_chain", lambda settings: chain or good_chain())
    monkeypatch.setattr("eval.runner.index_fingerprint", lambda settings: {"chunks": 2})
    for var in ("RAGBOT_MODE", "RAGBOT_K", "RAGBOT_CHROMA_HOST"):
        monkeypatch.delenv(var, raising=False)
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_eval_with_thresholds(tmp_path, golden, monkeypatch, capsys):
    floors = tmp_path / "floors.json"
    floors.write_text(json.dumps({"answer_pass_rate": {"min": 0.9}, "false_refusal_rate": {"max": 0.1},
                                  "hit@5": {"min": 0.5}}))
    code, out, err = run_cli(monkeypatch, capsys, ["eval", str(golden), "--out", str(tmp_path / "r"),
                                                   "--thresholds", str(floors), "--persist-dir", str(tmp_path / "idx")])
    assert code == 1
    lines = [l for l in err.splitlines() if "threshold:" in l]
    assert lines == [
        "ragbot: threshold: answer_pass_rate = 0.333, below the floor 0.9",
        "ragbot: threshold: false_refusal_rate = 0.333, above the ceiling 0.1",
    ]
    assert "answer_pass_rate" in out and (tmp_path / "r" / "report.html").exists()
    assert json.loads((tmp_path / "r" / "report.json").read_text())["config"]["index_fingerprint"] == {"chunks": 2}


def test_cli_eval_split_and_passing_thresholds(tmp_path, golden, monkeypatch, capsys):
    floors = tmp_path / "floors.json"
    floors.write_text(json.dumps({"refusal_accuracy": {"min": 1.0}}))
    code, out, err = run_cli(monkeypatch, capsys, ["eval", str(golden), "--split", "test", "--out", str(tmp_path / "r"),
                                                   "--thresholds", str(floors)])
    assert code == 0, err
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert [c["id"] for c in data["cases"]] == ["un", "mars"] and data["config"]["split"] == "test"


@pytest.mark.parametrize(
    "content, message",
    [
        ("{", "invalid JSON"),
        ('{"hit@7": {"min": 0.5}}', "unknown metric 'hit@7'; known: hit@1"),
        ('{"hit@5": 0.5}', 'hit@5 must be {"min": x} and/or {"max": x}, got 0.5'),
        ('{"hit@5": {"floor": 0.5}}', "hit@5 must be"),
        ('{"hit@5": {"min": "high"}}', 'hit@5.min must be a number, got "high"'),
    ],
)
def test_bad_thresholds_files_fail_before_running(tmp_path, golden, monkeypatch, capsys, content, message):
    floors = tmp_path / "floors.json"
    floors.write_text(content)
    chain = good_chain()
    code, _, err = run_cli(monkeypatch, capsys, ["eval", str(golden), "--out", str(tmp_path / "r"), "--thresholds", str(floors)], chain)
    assert code == 2 and message in err and chain.inputs == []
    assert len(err.strip().splitlines()) == 1


def test_shipped_thresholds_gate_the_trust_metrics():
    from eval.thresholds import DEFAULT_FILE, load_thresholds

    floors = load_thresholds(DEFAULT_FILE)
    # The trust metrics and answers are held at the issues' floors. Refusal on the whole (tuned) set
    # is held at 0.85 since the reader (2026-12-06: 0.873 there; 0.913 on the essay's test split and
    # 0.917 on a fresh blind batch, where issue 23's 0.90 floor is measured): README "Evaluation".
    assert floors["faithfulness"]["min"] >= 0.95 and floors["hit@5"]["min"] >= 0.95
    for name in ("must_include_recall", "answer_pass_rate"):
        assert floors[name]["min"] >= 0.90
    assert floors["refusal_accuracy"]["min"] >= 0.85
    assert floors["false_refusal_rate"]["max"] <= 0.05
