"""A collection's own decision with the real models: `ragbot eval --calibrate` on 40 of the essay's
dev questions, then a chain built afterwards answers the essay's test questions with it; its false
refusals there keep within 0.05 of the balanced level's aim (issue 34's floor)."""
from __future__ import annotations

import json

import pytest

from eval.golden import load_golden
from ingest.pipeline import ingest
from rag import build_chain
from rag.answer.decision import read_decision
from rag.cli import main
from rag.settings import Settings

from .conftest import ROOT

pytestmark = pytest.mark.integration

ESSAY = ROOT / "eval" / "golden" / "military-diplomacy.jsonl"
CALIBRATION_CASES = 40


@pytest.fixture(scope="module")
def essay(tmp_path_factory, real_embeddings):
    folder = tmp_path_factory.mktemp("calibrated")
    settings = Settings(persist_dir=str(folder / "chroma"), collection="essay")
    ingest([ROOT / "data" / "corpus"], settings, embeddings=real_embeddings)
    return settings, folder


def forty_dev_questions(folder) -> list[dict]:
    """40 of the essay's dev questions without history, spread over the file so both kinds are in."""
    rows = [json.loads(line) for line in ESSAY.read_text().splitlines() if line.strip()]
    dev = [r for r in rows if r.get("split") == "dev" and not r.get("history")]
    step = len(dev) / CALIBRATION_CASES
    chosen = [dev[int(i * step)] for i in range(CALIBRATION_CASES)]
    path = folder / "calibration.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in chosen))
    return chosen


def test_a_calibrated_collection_refuses_about_its_aim_on_other_questions(essay, monkeypatch, capsys):
    settings, folder = essay
    chosen = forty_dev_questions(folder)
    assert 0 < sum(not r.get("answerable", True) for r in chosen) < CALIBRATION_CASES
    monkeypatch.chdir(folder)
    code = main(["eval", str(folder / "calibration.jsonl"), "--calibrate", "--persist-dir", settings.persist_dir,
                 "--collection", settings.collection])
    out = capsys.readouterr().out
    assert code == 0 and f"stored collection {settings.collection!r}'s decision" in out, out
    stored = read_decision(settings)
    assert stored["cases"] == CALIBRATION_CASES

    chain = build_chain(settings)  # built afterwards: it reads the stored decision
    others = [c for c in load_golden([ESSAY], "test") if not c.history]
    answers = [chain.invoke({"question": c.question}) for c in others]
    assert all(a.support.get("decision", "").startswith("collection") for a in answers if "reader" in a.support)
    answerable = [a for c, a in zip(others, answers) if c.answerable]
    unanswerable = [a for c, a in zip(others, answers) if not c.answerable]
    false_refusal = sum(a.refused for a in answerable) / len(answerable)
    refusal = sum(a.refused for a in unanswerable) / len(unanswerable)
    aim = stored["levels"]["balanced"]["aim"]
    # the other levels from the same answers (the decision's score does not depend on the level)
    by_level = {name: round(sum(a.support.get("gate_score", 0) < v["threshold"] for a in answerable) / len(answerable), 3)
                for name, v in stored["levels"].items()}
    print(f"\ncalibrated on {CALIBRATION_CASES} essay dev questions; on {len(others)} essay test questions: balanced "
          f"(aim {aim}) false refusals {false_refusal:.3f}, refusal {refusal:.3f}; false refusals by level {by_level}")
    assert abs(false_refusal - aim) <= 0.05
    assert all(a.confidence is not None for a in answers if "reader" in a.support)
