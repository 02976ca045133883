"""Refusals a user can tune: the strictness levels (settings, environment, flag, per request), a
collection's own decision (fitted by `ragbot eval --calibrate`, stored beside its manifest, read back
by the next chain) and the confidence with its calibration error."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from eval.calibrate import TooFewCases, calibrate_collection, decision_rows, fit_decision, level_threshold
from eval.golden import GoldenCase
from eval.reliability import answer_reliability, reliability
from rag.answer.decision import CollectionDecision, decision_path, read_decision, reader_fingerprint, save_decision
from rag.answer.reader import ReaderGate, platt
from rag.errors import ConfigError
from rag.settings import Settings

from .test_reader import FakeReader, nye_readings

LEVELS = {"strict": {"aim": 0.15, "threshold": 0.9}, "balanced": {"aim": 0.08, "threshold": 0.5},
          "lenient": {"aim": 0.03, "threshold": 0.2}}
BAD_LEVEL = "unknown refusal level 'wild'; known: balanced, lenient, strict"


def gate(levels=LEVELS, confidence=(1.0, 0.0)) -> ReaderGate:
    """A decision whose score is sigmoid(reader_answerable)."""
    return ReaderGate({"reader_answerable": 1.0}, 0.0, 0.5, 0.0, 2, {}, dict(levels), confidence)


def level_chain(tmp_path, answerable: float, reader_gate: ReaderGate | None = None, **settings):
    from rag.answer.chain import build_chain

    from .conftest import FakeEmbeddings
    from .test_chain import ALWAYS, FixedRetriever

    s = Settings(persist_dir=str(tmp_path), answer_core="reader", **settings)
    return build_chain(s, embeddings=FakeEmbeddings(), retriever=FixedRetriever(), gate=ALWAYS,
                       reader=FakeReader(nye_readings(answerable)), reader_gate=reader_gate or gate())


# -- levels: settings, environment, flag, request ---------------------------------------------

def test_the_default_level_is_balanced_and_uses_the_shipped_threshold():
    assert Settings().refusal == "balanced"
    g = ReaderGate({"reader_answerable": 1.0}, 0.0, 0.41, 0.0, 2, {})  # a reader.json fitted before levels
    assert g.threshold_for() == g.threshold_for("balanced") == 0.41
    with pytest.raises(ConfigError, match=r"no .strict. refusal level .*`python -m eval.fit_reader`"):
        g.threshold_for("strict")


def test_the_packaged_decision_keeps_todays_threshold_as_balanced():
    from rag.answer.reader import load_reader_gate

    shipped = load_reader_gate()
    assert shipped.threshold_for("balanced") == shipped.threshold
    if shipped.levels:  # refitted with levels: strict refuses more, lenient less
        assert shipped.threshold_for("strict") >= shipped.threshold >= shipped.threshold_for("lenient")
        assert shipped.confidence is not None


@pytest.mark.parametrize("make", [
    lambda: Settings(refusal="wild"),
    lambda: Settings.from_env({"RAGBOT_REFUSAL": "wild"}),
    lambda: Settings().replace(refusal="wild"),
    lambda: gate().threshold_for("wild"),
])
def test_a_bad_level_gets_one_message_listing_the_known_ones(make):
    with pytest.raises(ConfigError) as err:
        make()
    assert str(err.value) == BAD_LEVEL


def test_the_environment_sets_the_level():
    assert Settings.from_env({"RAGBOT_REFUSAL": "strict"}).refusal == "strict"
    assert Settings.from_env({"RAGBOT_REFUSAL": "strict"}, refusal="lenient").refusal == "lenient"  # the flag wins


@pytest.mark.parametrize("command", ["ask", "chat"])
def test_the_flag_reaches_the_chain_and_a_bad_one_is_one_line(command, monkeypatch, capsys):
    from rag.cli import main

    built = []

    class Chain:
        def invoke(self, inp):
            raise AssertionError("not asked")

    def build(settings):
        built.append(settings)
        return Chain()

    monkeypatch.setattr("rag.answer.chain.build_chain", build)
    monkeypatch.setattr("builtins.input", lambda prompt="": "")
    monkeypatch.setenv("RAGBOT_REFUSAL", "lenient")
    args = [command] + (["q?"] if command == "ask" else [])
    monkeypatch.setattr("rag.cli.cmd_ask", lambda a, s: build(s) and 0)
    assert main(args + ["--refusal", "strict"]) == 0
    assert main(args) == 0
    assert [s.refusal for s in built] == ["strict", "lenient"]
    assert main(args + ["--refusal", "wild"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"ragbot: error: {BAD_LEVEL}"


@pytest.mark.parametrize("answerable, expected", [
    (3.0, {"strict": False, "balanced": False, "lenient": False}),  # score 0.95
    (0.0, {"strict": True, "balanced": False, "lenient": False}),  # score 0.5: exactly balanced's threshold
    (-1.0, {"strict": True, "balanced": True, "lenient": False}),  # score 0.27
    (-2.0, {"strict": True, "balanced": True, "lenient": True}),  # score 0.12
])
def test_each_level_refuses_below_its_own_threshold(tmp_path, answerable, expected):
    chain = level_chain(tmp_path, answerable)
    refused = {}
    for level in expected:
        answer = chain.invoke({"question": "Who coined the term soft power?", "refusal": level})
        refused[level] = answer.refused
        assert answer.support["refusal"] == level and answer.support["gate_threshold"] == LEVELS[level]["threshold"]
        assert answer.confidence == pytest.approx(1 / (1 + math.exp(-answerable)), abs=1e-4)  # Platt (1, 0)
        assert answer.to_dict()["confidence"] == answer.confidence
    assert refused == expected
    assert chain.invoke("Who coined the term soft power?").refused == expected["balanced"]  # the setting's level
    assert level_chain(tmp_path, answerable, refusal="strict").invoke("Who coined?").refused == expected["strict"]


def test_a_bad_level_in_a_request_is_the_same_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        level_chain(tmp_path, 3.0).invoke({"question": "Who?", "refusal": "wild"})
    assert str(err.value) == BAD_LEVEL


def test_without_a_calibration_the_answer_has_no_confidence(tmp_path):
    answer = level_chain(tmp_path, 3.0, gate(confidence=None)).invoke("Who coined the term soft power?")
    assert answer.confidence is None and answer.to_dict()["confidence"] is None


# -- a collection's own decision ------------------------------------------------------------

def stored(settings: Settings, shipped: ReaderGate, strict: float = 0.97, balanced: float = 0.8) -> dict:
    decision = {"reader": reader_fingerprint(settings.reader_file, shipped), "created": "2026-12-07", "cases": 40,
                "levels": {"strict": {"aim": 0.15, "threshold": strict}, "balanced": {"aim": 0.08, "threshold": balanced},
                           "lenient": {"aim": 0.03, "threshold": 0.1}},
                "confidence": {"method": "platt", "a": 2.0, "b": -1.0}}
    save_decision(settings, decision)
    return decision


def test_the_stored_decision_is_kept_beside_the_collections_manifest(tmp_path):
    from rag.retrieval.sync import lexical_dir

    a, b = Settings(persist_dir=str(tmp_path), collection="alpha"), Settings(persist_dir=str(tmp_path), collection="beta")
    assert decision_path(a).parent == lexical_dir(a) != lexical_dir(b)
    server = Settings(persist_dir=str(tmp_path), collection="alpha", chroma_host="10.0.0.2", chroma_port=8001)
    assert decision_path(server).parent == lexical_dir(server) != lexical_dir(a)
    written = stored(a, gate())
    assert read_decision(a) == {"collection": "alpha", **written}
    assert read_decision(b) is None


def test_a_chain_built_afterwards_decides_with_the_collections_levels(tmp_path):
    settings = Settings(persist_dir=str(tmp_path), answer_core="reader")
    stored(settings, gate())
    chain = level_chain(tmp_path, 0.5)  # score 0.62: the shipped balanced (0.5) answers, the stored (0.8) refuses
    answer = chain.invoke("Who coined the term soft power?")
    assert answer.refused and answer.support["gate_threshold"] == 0.8
    assert answer.support["decision"].startswith("collection (fitted 2026-12-07 on 40 questions")
    assert answer.support["refusal_levels"] == {"strict": 0.97, "balanced": 0.8, "lenient": 0.1}
    assert answer.confidence == pytest.approx(platt(1 / (1 + math.exp(-0.5)), 2.0, -1.0), abs=1e-4)
    assert not chain.invoke({"question": "Who coined?", "refusal": "lenient"}).refused
    other = level_chain(tmp_path, 0.5, collection="another")  # another collection keeps the shipped decision
    assert not other.invoke("Who coined?").refused and other.invoke("Who?").support["decision"] == "shipped"


def test_a_new_calibration_is_seen_without_building_the_chain_again(tmp_path):
    settings = Settings(persist_dir=str(tmp_path), answer_core="reader")
    chain = level_chain(tmp_path, 0.5)
    assert not chain.invoke("Who coined?").refused
    stored(settings, gate())
    assert chain.invoke("Who coined?").refused
    decision_path(settings).unlink()
    assert not chain.invoke("Who coined?").refused


@pytest.mark.parametrize("spoil, why", [
    (lambda d: {**d, "reader": "0" * 16}, "fitted for another reader"),
    (lambda d: {**d, "collection": "other"}, "is 'other''s, not 'ragbot''s"),
])
def test_a_decision_for_another_reader_or_collection_falls_back_to_the_shipped_one(tmp_path, spoil, why):
    settings = Settings(persist_dir=str(tmp_path))
    stored(settings, gate())
    path = decision_path(settings)
    path.write_text(json.dumps(spoil(json.loads(path.read_text()))))
    used, note = CollectionDecision(settings, gate()).current()
    assert used.threshold_for() == 0.5 and note.startswith("shipped (") and why in note


def test_a_refitted_reader_json_makes_the_stored_decision_stale(tmp_path):
    settings = Settings(persist_dir=str(tmp_path))
    stored(settings, gate())
    refitted = ReaderGate({"reader_answerable": 1.1}, 0.0, 0.5, 0.0, 2, {}, dict(LEVELS), (1.0, 0.0))
    used, note = CollectionDecision(settings, refitted).current()
    assert used is refitted and "another reader" in note


def test_a_damaged_decision_file_is_a_clear_error(tmp_path):
    settings = Settings(persist_dir=str(tmp_path))
    decision_path(settings).parent.mkdir(parents=True)
    decision_path(settings).write_text("{not json")
    with pytest.raises(ConfigError, match=r"cannot be read .* delete it or run `ragbot eval GOLDEN --calibrate` again"):
        CollectionDecision(settings, gate()).current()


# -- fitting a collection's decision ---------------------------------------------------------

def test_a_levels_threshold_sits_at_its_aims_rank():
    scores = [i / 100 for i in range(1, 100)]  # 99 answerable scores: 0.01 .. 0.99
    assert level_threshold(scores, 0.05) == pytest.approx(0.05)  # rank 0.05 * 100 = 5
    assert level_threshold(scores, 0.155) == pytest.approx(0.155)  # between ranks 15 and 16
    assert level_threshold([0.3, 0.6, 0.9], 0.05) == 0.3  # below the lowest rank: the lowest score


def labelled(n_answerable: int, n_unanswerable: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    cases, answers = [], []
    for i in range(n_answerable + n_unanswerable):
        ok = i < n_answerable
        score = float(rng.beta(5, 2) if ok else rng.beta(2, 5))
        cases.append(GoldenCase(id=f"c{i}", question=f"q{i}", answerable=ok))
        answers.append({"support": {"gate_score": score, "reader": {"reader_answerable": 0.0}}})
    return cases, answers


def test_fitting_places_each_level_at_its_aim_on_the_users_questions():
    cases, answers = labelled(200, 100)
    answers.append({"support": {"gate_score": 0.5}})  # decided by the evidence gate: not the reader's score
    cases.append(GoldenCase(id="x", question="x"))
    scores, labels = decision_rows(cases, answers)
    assert len(scores) == 300
    fit = fit_decision(scores, labels, {"strict": 0.15, "balanced": 0.08, "lenient": 0.03})
    for name, aim in (("strict", 0.15), ("balanced", 0.08), ("lenient", 0.03)):
        assert fit["fit"][name]["refused_answerable"] / 200 == pytest.approx(aim, abs=0.01)
    assert fit["levels"]["strict"]["threshold"] > fit["levels"]["balanced"]["threshold"] > fit["levels"]["lenient"]["threshold"]
    a, b = fit["confidence"]["a"], fit["confidence"]["b"]
    assert a > 0 and 0.5 < np.mean([platt(s, a, b) for s in scores]) < 0.8  # 2 of 3 are answerable


@pytest.mark.parametrize("n_answerable, n_unanswerable, counts", [
    (12, 4, "16 labelled questions the reader decided (12 answerable, 4 unanswerable)"),
    (30, 0, "30 labelled questions the reader decided (30 answerable, 0 unanswerable)"),
    (0, 25, "25 labelled questions the reader decided (0 answerable, 25 unanswerable)"),
])
def test_too_few_questions_are_refused_with_the_counts(n_answerable, n_unanswerable, counts):
    cases, answers = labelled(n_answerable, n_unanswerable)
    with pytest.raises(TooFewCases) as err:
        fit_decision(*decision_rows(cases, answers), {"balanced": 0.08})
    assert str(err.value) == f"{counts}; calibrating needs at least 20, with both kinds"


def test_calibrating_stores_what_the_next_chain_reads(tmp_path, monkeypatch):
    shipped = gate()
    monkeypatch.setattr("rag.answer.reader.load_reader_gate", lambda path=None: shipped)
    settings = Settings(persist_dir=str(tmp_path))
    cases, answers = labelled(30, 10)
    summary = calibrate_collection(settings, cases, answers, source="g.jsonl split dev")
    kept = read_decision(settings)
    assert kept["fitted_on"] == "g.jsonl split dev" and kept["cases"] == 40 and kept["collection"] == "ragbot"
    assert summary.splitlines()[0].startswith("stored collection 'ragbot''s decision in ")
    assert "(30 answerable, 10 unanswerable)" in summary.splitlines()[0]
    assert summary.splitlines()[1].lstrip().startswith("strict   aims 0.15: threshold ")
    used, note = CollectionDecision(settings, shipped).current()
    assert note.startswith("collection") and used.threshold_for("balanced") == kept["levels"]["balanced"]["threshold"]
    assert used.confidence == (kept["confidence"]["a"], kept["confidence"]["b"])


def eval_cli(tmp_path, monkeypatch, n_answerable, n_unanswerable, *extra):
    """`ragbot eval golden.jsonl --calibrate` over a fake chain whose scores separate the kinds."""
    from rag.cli import main
    from rag.types import Answer

    golden = tmp_path / "g.jsonl"
    cases, answers = labelled(n_answerable, n_unanswerable)
    rows = [{"id": c.id, "question": c.question, "answerable": c.answerable, "split": "dev"} for c in cases]
    rows.append({"id": "t0", "question": "test 0", "split": "test"})
    golden.write_text("".join(json.dumps(r) + "\n" for r in rows))
    by_question = {c.question: a for c, a in zip(cases, answers)}
    asked = []

    class Chain:
        def invoke(self, inp):
            asked.append(inp["question"])
            support = by_question[inp["question"]]["support"]
            return Answer(inp["question"], inp["question"], "x", False, "extractive", support=support, confidence=0.5)

    shipped = gate()
    monkeypatch.setattr("rag.answer.reader.load_reader_gate", lambda path=None: shipped)
    monkeypatch.setattr("eval.cli._build_chain", lambda settings: Chain())
    monkeypatch.setattr("eval.runner.index_fingerprint", lambda settings: {})
    monkeypatch.chdir(tmp_path)
    code = main(["eval", str(golden), "--calibrate", "--persist-dir", str(tmp_path / "index"), *extra])
    return code, asked


def test_cli_calibrate_fits_on_dev_and_stores_with_the_collection(tmp_path, monkeypatch, capsys):
    code, asked = eval_cli(tmp_path, monkeypatch, 30, 12, "--collection", "essays")
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "test 0" not in asked  # the test split stays unseen
    settings = Settings(persist_dir=str(tmp_path / "index"), collection="essays")
    assert read_decision(settings)["fitted_on"].endswith("g.jsonl split dev")
    assert f"stored collection 'essays''s decision in {decision_path(settings)}" in out
    assert read_decision(Settings(persist_dir=str(tmp_path / "index"))) is None  # the default collection untouched


def test_cli_calibrate_with_too_few_questions_says_so_and_stores_nothing(tmp_path, monkeypatch, capsys):
    code, _ = eval_cli(tmp_path, monkeypatch, 10, 5)
    out, err = capsys.readouterr()
    assert code == 0
    assert err.strip().splitlines()[-1] == (
        "ragbot: calibration: not fitted: 15 labelled questions the reader decided (10 answerable, 5 unanswerable); "
        "calibrating needs at least 20, with both kinds; collection 'ragbot' keeps the shipped decision")
    assert not decision_path(Settings(persist_dir=str(tmp_path / "index"))).exists()


# -- the confidence's calibration error -------------------------------------------------------

def test_expected_calibration_error_on_known_bins():
    # bin [0.2, 0.3): 4 answers at 0.25, 1 answerable -> gap 0; bin [0.9, 1]: 2 at 0.95, none answerable -> gap 0.95
    rel = reliability([0.25] * 4 + [0.95, 1.0], [True, False, False, False, False, False])
    assert rel["n"] == 6 and [b["n"] for b in rel["bins"]] == [4, 2]
    assert rel["bins"][1]["confidence"] == 0.975 and rel["bins"][1]["answerable"] == 0.0
    assert rel["ece"] == pytest.approx(2 / 6 * 0.975, abs=1e-4)
    assert reliability([0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7], [True] * 7 + [False] * 3)["ece"] == pytest.approx(0)
    assert reliability([], [])["ece"] is None


def test_answer_reliability_skips_answers_without_a_confidence():
    rel = answer_reliability([True, False, True], [{"confidence": 0.9}, {"confidence": None}, {}])
    assert rel["n"] == 1 and rel["ece"] == pytest.approx(0.1)


def test_the_report_carries_the_ece_the_levels_and_the_reliability_plot(tmp_path):
    from eval.report import write_reports
    from eval.runner import build_report

    cases = [GoldenCase(f"c{i}", f"q{i}", i % 3 != 0, must_include_any=(("Nye",),)) for i in range(30)]
    results = []
    for i, c in enumerate(cases):
        score = 0.8 if c.answerable else 0.3
        refused = score < 0.5
        support = {"gate_score": score, "gate_threshold": 0.5, "reader": {},
                   "refusal_levels": {"strict": 0.9, "balanced": 0.5, "lenient": 0.1}}
        results.append(({"question": c.question, "answer": "" if refused else "Nye [1].", "refused": refused,
                         "confidence": score, "citations": [], "retrieved": [], "support": support,
                         "timings_ms": {"total": 1.0}}, 0.0, ""))
    report = build_report(cases, results)
    assert report["metrics"]["confidence_ece"] == pytest.approx(2 / 3 * 0.2 + 1 / 3 * 0.3, abs=1e-4)  # 0.8 vs 1, 0.3 vs 0
    levels = report["risk_coverage"]["levels"]
    assert levels["strict"]["coverage"] == 0.0 and levels["lenient"]["coverage"] == 1.0
    assert levels["balanced"] == report["risk_coverage"]["current"]
    paths = write_reports(report, tmp_path)
    md = paths["md"].read_text()
    assert "- Refusal level strict (threshold 0.9): coverage 0.000" in md
    assert "- Confidence: expected calibration error 0.233 over 30 answers (ten bins)." in md
    assert "alt='reliability of the confidence'" in paths["html"].read_text()


# -- the app and the HTTP API ----------------------------------------------------------------

@pytest.mark.parametrize("confidence, word", [(0.97, "sure"), (0.85, "sure"), (0.7, "fairly sure"), (0.3, "unsure")])
def test_the_app_marks_how_sure_an_answer_is_quietly(confidence, word):
    from ui.render import answer_markdown

    html = answer_markdown("Joseph Nye [1].", confidence=confidence)
    assert html.endswith(f">{word}</span>") and f'title="{confidence:.0%} likely' in html
    assert "rb-sure" not in answer_markdown("The documents don't say.", refused=True, confidence=confidence)
    assert "rb-sure" not in answer_markdown("Joseph", pending=True, confidence=confidence)
    assert "rb-sure" not in answer_markdown("Joseph Nye [1].")  # no confidence, no marker


def test_the_apps_level_and_the_confidence_reach_the_chat(tmp_path):
    from ui.fakes import FakeChain, FakeDoc
    from ui.handlers import RagbotUI
    from ui.session import Session

    chain = FakeChain([FakeDoc("a.txt", "Soft power, a term coined by Joseph Nye, means attraction.")])
    ui = RagbotUI(Settings(persist_dir=str(tmp_path)), lambda s: chain, feedback_path=tmp_path / "fb.jsonl")
    *_, (_, messages, _, session) = ui.ask("Who coined soft power?", Session(), refusal="lenient")
    assert chain.calls[-1]["refusal"] == "lenient"
    assert session.turns[-1].answer.confidence is not None and "rb-sure" in messages[-1]["content"]
    notes = []
    ui.notify = lambda level, msg: notes.append(msg)
    list(ui.ask("Who coined soft power?", Session(), refusal="wild"))
    assert notes == [BAD_LEVEL]


def test_the_api_takes_a_level_and_returns_the_confidence(tmp_path):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from ui.api.routes import create_api
    from ui.fakes import FakeChain, FakeDoc
    from ui.handlers import RagbotUI

    chain = FakeChain([FakeDoc("a.txt", "Soft power, a term coined by Joseph Nye, means attraction.")])
    ui = RagbotUI(Settings(persist_dir=str(tmp_path), collection="test"), lambda s: chain, feedback_path=tmp_path / "f")
    client = TestClient(create_api(ui.library), raise_server_exceptions=False)
    d = client.post("/v1/ask", json={"question": "Who coined soft power?", "refusal": "strict"}).json()
    assert chain.calls[-1]["refusal"] == "strict" and isinstance(d["confidence"], float)
    body = {"model": "test", "messages": [{"role": "user", "content": "Who coined soft power?"}]}
    d = client.post("/v1/chat/completions", json=body).json()
    assert chain.calls[-1]["refusal"] == "balanced" and isinstance(d["confidence"], float)
    with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True, "refusal": "lenient"}) as r:
        last = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")][-1]
    assert chain.calls[-1]["refusal"] == "lenient" and isinstance(last["confidence"], float)
    for url, bad in (("/v1/ask", {"question": "Who?", "refusal": "wild"}), ("/v1/chat/completions", {**body, "refusal": "wild"})):
        r = client.post(url, json=bad)
        assert r.status_code == 400 and r.json()["detail"] == BAD_LEVEL


def test_the_report_says_which_level_and_whose_decision_answered():
    from eval.runner import build_report

    cases = [GoldenCase(f"c{i}", f"q{i}") for i in range(3)]
    support = {"refusal": "strict", "decision": "collection (fitted 2026-12-07 on 40 questions)"}
    results = [({"answer": "x", "refused": False, "support": support if i else {}}, 0.0, "") for i in range(3)]
    config = build_report(cases, results, {"mode": "extractive"})["config"]
    assert config == {"mode": "extractive", **support}
    assert build_report(cases, [({"answer": "x"}, 0.0, "")] * 3, {"k": 5})["config"] == {"k": 5}


# -- fitting the levels and the confidence on dev (python -m eval.fit_reader) -------------------

def dev_sets(seed: int = 0):
    """Out-of-fold scores of three dev sets: answerable ones high, unanswerable ones low, overlapping."""
    rng = np.random.default_rng(seed)
    oof, labels = {}, {}
    for name, (pos, neg, shift) in {"squad2": (600, 600, 0.0), "missing": (300, 150, 0.5), "essay": (70, 25, 1.0)}.items():
        z = np.concatenate([rng.normal(1.0 + shift, 1.0, pos), rng.normal(-1.0, 1.0, neg)])
        oof[name], labels[name] = 1 / (1 + np.exp(-z)), np.array([1] * pos + [0] * neg)
    return oof, labels


def test_fit_reader_levels_keep_balanced_and_bound_every_set_by_their_aim():
    from eval.fit_reader import choose_threshold, fit_levels, rates

    oof, labels = dev_sets()
    balanced = choose_threshold(oof, labels, {n: 0.08 for n in oof})
    levels = fit_levels(oof, labels, balanced, {n: 0.08 for n in oof}, {"strict": 0.15, "lenient": 0.03})
    assert list(levels) == ["strict", "balanced", "lenient"]  # strictest first
    assert levels["balanced"]["threshold"] == round(balanced, 6) and levels["balanced"]["aim"] == 0.08
    for name in ("strict", "lenient"):
        aim, t = levels[name]["aim"], levels[name]["threshold"]
        false_refusals = [rates(oof[n], labels[n], t)[1] for n in oof]
        assert max(false_refusals) <= aim and max(false_refusals) > aim - 0.02  # the binding set sits at its aim
        assert levels[name]["dev_out_of_fold"]["squad2"]["false_refusal"] == round(false_refusals[0], 4)
    refusal = {n: levels[n]["dev_out_of_fold"]["squad2"]["refusal"] for n in levels}
    assert refusal["strict"] > refusal["balanced"] > refusal["lenient"]


def test_fit_reader_confidence_is_calibrated_on_dev():
    from eval.fit_reader import fit_confidence

    oof, labels = dev_sets()
    conf = fit_confidence(oof, labels)
    assert conf["method"] == "platt" and conf["a"] > 0
    assert all(0 <= e < 0.1 for e in conf["dev_ece"].values())
    gate = ReaderGate({}, 0.0, 0.5, 0.0, 5, {"confidence": conf}, {}, (conf["a"], conf["b"]))
    assert gate.to_dict()["confidence"] == conf  # written back as fitted


def test_fit_reader_reads_its_cache_only_for_the_reader_it_came_from(tmp_path):
    from eval.fit_reader import read_cache
    from rag.errors import InputError

    cache = tmp_path / "rows.json"
    cache.write_text(json.dumps({"reader": "abc", "passages": 5, "limit": None, "sets": {"essay": []}}))
    assert read_cache(cache, "abc", 5, None) == {"essay": []}
    with pytest.raises(InputError, match="collected with another reader model"):
        read_cache(cache, "def", 5, None)


def test_the_mcp_ask_tool_takes_a_level_and_returns_the_confidence(tmp_path):
    from ui.api.keys import FULL
    from ui.api.mcp_tools import _ask
    from ui.fakes import FakeChain, FakeDoc
    from ui.handlers import RagbotUI

    chain = FakeChain([FakeDoc("a.txt", "Soft power, a term coined by Joseph Nye, means attraction.")])
    ui = RagbotUI(Settings(persist_dir=str(tmp_path)), lambda s: chain, feedback_path=tmp_path / "f")
    d = _ask(ui.library, FULL, "Who coined soft power?", [], None, "strict")
    assert chain.calls[-1]["refusal"] == "strict" and isinstance(d["confidence"], float)
    _ask(ui.library, FULL, "Who coined soft power?", [], None)
    assert chain.calls[-1]["refusal"] == "balanced"
    with pytest.raises(ConfigError) as err:
        _ask(ui.library, FULL, "Who?", [], None, "wild")
    assert str(err.value) == BAD_LEVEL


def test_fit_reader_can_add_levels_to_a_decision_without_moving_it(tmp_path):
    from eval.fit_reader import with_levels

    oof, labels = dev_sets()
    z = {n: np.log(v / (1 - v)) for n, v in oof.items()}
    sets = {n: [{"features": {"reader_answerable": float(x)}} for x in z[n]] for n in z}
    path = tmp_path / "reader.json"
    path.write_text(json.dumps({"weights": {"reader_answerable": 1.0}, "bias": 0.0, "threshold": 0.41, "span_threshold": -4.0,
                                "passages": 5, "max_false_refusal": {n: 0.08 for n in oof}, "created": "then"}))
    gate = with_levels(str(path), sets, labels, {"strict": 0.15, "lenient": 0.03})
    d = gate.to_dict()
    assert (d["weights"], d["bias"], d["threshold"], d["created"]) == ({"reader_answerable": 1.0}, 0.0, 0.41, "then")
    assert d["levels"]["balanced"]["threshold"] == 0.41 and d["levels"]["balanced"]["aim"] == 0.08
    assert d["levels"]["strict"]["threshold"] > 0.41 > d["levels"]["lenient"]["threshold"]
    assert set(d["levels"]["strict"]["dev"]) == set(oof) and max(d["confidence"]["dev_ece"].values()) < 0.1


def test_balanced_is_named_by_the_bound_most_dev_sets_share():
    from eval.fit_reader import choose_threshold, fit_levels

    oof, labels = dev_sets()
    bounds = {"squad2": 0.08, "missing": 0.08, "essay": 0.10}
    levels = fit_levels(oof, labels, choose_threshold(oof, labels, bounds), bounds, {"strict": 0.15})
    assert levels["balanced"]["aim"] == 0.08


def test_the_ece_a_calibrated_confidence_would_show_shrinks_with_the_questions():
    import random

    from eval.reliability import ece_if_calibrated, reliability

    rng = random.Random(3)
    few = [rng.random() for _ in range(60)]
    many = [rng.random() for _ in range(20000)]
    assert ece_if_calibrated(few) > 0.04  # sixty questions: noise alone gives an ECE this large
    assert ece_if_calibrated(many) < 0.01
    assert ece_if_calibrated([]) is None
    # a truly calibrated sample's ECE is of the size the draws predict
    labels = [rng.random() < p for p in few]
    assert reliability(few, labels)["ece"] < 3 * ece_if_calibrated(few)
