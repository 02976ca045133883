"""Eval metrics on hand-made cases with known values."""
from __future__ import annotations

import math

import pytest

from eval import metrics as M
from eval.golden import GoldenCase

SOURCE = "essay.txt"


def passage(cid: str, text: str, source: str = SOURCE) -> dict:
    return {"chunk_id": cid, "source": source, "section": "", "text": text, "start": 0, "end": len(text), "score": 0.0}


def answer(text: str, cites: list[tuple[int, str]] = (), retrieved: list[dict] = (), refused: bool = False,
           total: float | None = None, support: dict | None = None) -> dict:
    return {
        "question": "q", "standalone_question": "q", "answer": text, "refused": refused, "mode": "extractive",
        "citations": [{"n": n, "chunk_id": cid, "source": SOURCE, "section": "", "quote": "", "start": 0, "end": 0,
                       "score": 0.0} for n, cid in cites],
        "retrieved": list(retrieved),
        "timings_ms": {} if total is None else {"total": total},
        "support": support or {},
    }


CASE = GoldenCase(
    id="c1",
    question="Who coined soft power?",
    reference="Joseph Nye coined it",
    must_include_any=(("Joseph Nye", "Nye"), ("soft power",)),
    evidence=("Soft power, a term  coined by Joseph Nye", "in the year 1990"),
    sources=(SOURCE,),
)
NYE = passage("p-nye", "Soft power, a term coined by JOSEPH NYE, describes attraction rather than coercion.")
YEAR = passage("p-year", "He wrote about it in the year 1990 in a famous book.")
OTHER = passage("p-other", "Peacekeeping missions are often led by the United Nations.")


# ---------------------------------------------------------------- retrieval

def test_retrieval_metrics_hand_computed_with_duplicate_chunks():
    # ranks after dropping the repeated p-nye: OTHER, NYE, YEAR -> gains 0, 1, 1
    m = M.retrieval_metrics(CASE, [OTHER, NYE, NYE, YEAR])
    assert m["hit@1"] == 0.0
    assert m["hit@5"] == 1.0
    assert m["mrr@10"] == 0.5
    expected = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert m["ndcg@10"] == pytest.approx(expected)


def test_ndcg_counts_a_snippet_once_even_when_many_chunks_hold_it():
    twin = passage("p-nye-2", NYE["text"])
    m = M.retrieval_metrics(CASE, [NYE, twin, OTHER])
    assert m["ndcg@10"] == pytest.approx(1 / (1 + 1 / math.log2(3)))  # second snippet never found
    assert m["ndcg@10"] <= 1.0


@pytest.mark.parametrize(
    "order, expected",
    [
        (["both", "other"], 1.0),  # one chunk holds both snippets: a perfect ranking scores 1
        (["other", "both"], 1 / math.log2(3)),
        (["nye", "both"], 1.0),  # the later chunk only repeats a unit already found
    ],
)
def test_snippets_that_share_a_chunk_are_one_unit(order, expected):
    chunks = {"both": passage("both", NYE["text"] + " " + YEAR["text"]), "other": OTHER, "nye": NYE}
    assert M.retrieval_metrics(CASE, [chunks[c] for c in order])["ndcg@10"] == pytest.approx(expected)


def test_perfect_retrieval_scores_one():
    m = M.retrieval_metrics(CASE, [NYE, YEAR, OTHER])
    assert (m["hit@1"], m["mrr@10"], m["ndcg@10"]) == (1.0, 1.0, pytest.approx(1.0))


def test_without_evidence_a_passage_of_a_listed_source_is_relevant():
    case = GoldenCase(id="s", question="q", sources=("docs/essay.txt",))
    m = M.retrieval_metrics(case, [passage("a", "x", "notes.txt"), passage("b", "y", "essay.txt"), passage("c", "z", "essay.txt")])
    assert m["hit@1"] == 0.0 and m["mrr@10"] == 0.5
    assert m["ndcg@10"] == pytest.approx(1 / math.log2(3))  # one source: ideal DCG is 1


def test_retrieval_metrics_are_none_without_targets_and_zero_with_nothing_retrieved():
    assert M.retrieval_metrics(GoldenCase(id="u", question="q", answerable=False), [NYE]) == {
        "hit@1": None, "hit@5": None, "mrr@10": None, "ndcg@10": None}
    assert M.retrieval_metrics(CASE, [])["ndcg@10"] == 0.0


def test_evidence_matching_folds_whitespace_case_and_typographic_quotes():
    case = GoldenCase(id="q", question="q", evidence=("a nation’s  reputation",))
    assert M.is_relevant(passage("x", "It enhances A NATION'S\nreputation abroad."), case)
    assert not M.is_relevant(passage("y", "It enhances a reputation."), case)


# ---------------------------------------------------------------- answer content

@pytest.mark.parametrize(
    "text, refused, recall, passed",
    [
        ("The term was coined by Joseph Nye [1].", False, 0.5, False),  # 'soft power' group missing
        ("Soft power was coined by NYE [1].", False, 1.0, True),
        ("Soft power [1] was coined by Joseph\nNye.", False, 1.0, True),  # markers and line breaks ignored
        ("", False, 0.0, False),
        ("Joseph Nye and soft power are not in the documents.", True, 0.0, False),  # a refusal never passes
    ],
)
def test_must_include_and_answer_pass(text, refused, recall, passed):
    assert M.must_include_recall(CASE, text, refused) == recall
    assert M.answer_pass(CASE, text, refused) is passed


def test_answer_pass_without_groups_and_for_unanswerable_cases():
    bare = GoldenCase(id="b", question="q")
    assert M.must_include_recall(bare, "anything", False) is None
    assert M.answer_pass(bare, "anything", False) is True
    assert M.answer_pass(bare, "anything", True) is False
    assert M.answer_pass(GoldenCase(id="u", question="q", answerable=False), "x", False) is None


@pytest.mark.parametrize(
    "prediction, reference, f1",
    [
        ("The term was coined by Joseph Nye [1].", "Joseph Nye coined it", 2 * 0.5 * 0.75 / 1.25),
        ("Joseph Nye.", "joseph nye", 1.0),
        ("The a an", "", 1.0),  # both empty after normalisation
        ("Nye", "", 0.0),
        ("completely different", "Joseph Nye", 0.0),
    ],
)
def test_token_f1(prediction, reference, f1):
    assert M.token_f1(prediction, reference) == pytest.approx(f1)


def test_refused_answerable_case_scores_zero_f1_and_no_faithfulness():
    m = M.case_metrics(CASE, answer("The documents don't say.", refused=True, retrieved=[NYE]))
    assert m["token_f1"] == 0.0 and m["answer_pass"] is False and m["faithfulness"] is None
    assert m["correct"] is False and m["refused"] is True


# ---------------------------------------------------------------- citations and faithfulness

def test_citation_precision_uses_the_retrieved_passage_text():
    a = answer("Nye coined it [1]. Peacekeeping is UN-led [2].", [(1, "p-nye"), (2, "p-other")], [NYE, OTHER])
    assert M.citation_precision(CASE, a) == 0.5


def test_citation_precision_without_citations_is_none_and_falls_back_to_the_quote():
    assert M.citation_precision(CASE, answer("No markers here.", [], [NYE])) is None
    a = answer("Nye [1].", [(1, "gone")], [])
    a["citations"][0]["quote"] = "Soft power, a term coined by Joseph Nye, describes"
    assert M.citation_precision(CASE, a) == 1.0


@pytest.mark.parametrize(
    "text, cites, expected",
    [
        # supported: content words and the number all occur in the cited passage
        ("Joseph Nye coined the term soft power [1].", [(1, "p-nye")], 1.0),
        ("He wrote about it in 1990 [2].", [(2, "p-year")], 1.0),
        # a wrong number fails even though the words match
        ("He wrote about it in 1991 [2].", [(2, "p-year")], 0.0),
        # a sentence without a marker is unsupported
        ("Joseph Nye coined soft power [1]. It describes attraction.", [(1, "p-nye")], 0.5),
        # content words missing from the cited passage
        ("Peacekeeping missions are led by the United Nations [1].", [(1, "p-nye")], 0.0),
        # a marker that names no citation
        ("Joseph Nye coined soft power [3].", [(1, "p-nye")], 0.0),
        # two markers: judged against both passages together
        ("Joseph Nye wrote about soft power in 1990 [1][2].", [(1, "p-nye"), (2, "p-year")], 1.0),
        # inflections match through the light stemmer
        ("Joseph Nye coins terms describing attraction [1].", [(1, "p-nye")], 1.0),
    ],
)
def test_faithfulness(text, cites, expected):
    assert M.faithfulness(answer(text, cites, [NYE, YEAR, OTHER])) == pytest.approx(expected)


def test_faithfulness_has_nothing_to_judge_for_refusals_and_empty_answers():
    assert M.faithfulness(answer("Joseph Nye [1].", [(1, "p-nye")], [NYE], refused=True)) is None
    assert M.faithfulness(answer("", [], [NYE])) is None
    assert M.faithfulness(answer("[1].", [(1, "p-nye")], [NYE])) is None


@pytest.mark.parametrize(
    "text, sentences",
    [
        ("One claim [1]. Two claims [2].", ["One claim [1].", "Two claims [2]."]),
        ("Marker after the stop.[1] Next one [2]", ["Marker after the stop.[1]", "Next one [2]"]),
        ("The U.S. Army trains [1]. Done [2].", ["The U.S. Army trains [1].", "Done [2]."]),
        ("Roles are:\n- training\n- exercises\n[2] Then [3].", ["Roles are: [2]", "training [2]", "exercises [2]", "Then [3]."]),
        ("1. First item [1]\n2. Second item [2]", ["First item [1]", "Second item [2]"]),
        ("Value is 3.5 percent [1].", ["Value is 3.5 percent [1]."]),
        ("", []),
    ],
)
def test_split_sentences(text, sentences):
    assert M.split_sentences(text) == sentences


def test_numbers_and_markers():
    assert M.numbers("2,000 troops in 1990 and 3.5%") == {"2000", "1990", "3.5"}
    assert M.markers("a [1] b [2][3] c [4, 5]") == [1, 2, 3, 4, 5]


# ---------------------------------------------------------------- aggregate

def test_aggregate_answer_metrics_over_answerable_cases_only():
    unans = GoldenCase(id="u", question="Who won in 2030?", answerable=False)
    cases = [CASE, CASE.__class__(**{**CASE.__dict__, "id": "c2"}), unans, GoldenCase(id="u2", question="q", answerable=False)]
    answers = [
        answer("Soft power was coined by Joseph Nye [1].", [(1, "p-nye")], [NYE, YEAR], total=100),
        answer("The documents don't say.", refused=True, retrieved=[OTHER], total=200),
        answer("Someone won [1].", [(1, "p-other")], [OTHER], total=300),  # answered an unanswerable one
        answer("The documents don't say.", refused=True, total=400),
    ]
    agg = M.aggregate(cases, [M.case_metrics(c, a) for c, a in zip(cases, answers)])
    assert set(agg) == set(M.METRIC_NAMES)
    assert agg["hit@1"] == 0.5 and agg["hit@5"] == 0.5
    assert agg["answer_pass_rate"] == 0.5
    assert agg["must_include_recall"] == 0.5
    assert agg["false_refusal_rate"] == 0.5
    assert agg["refusal_accuracy"] == 0.5
    assert agg["faithfulness"] == 1.0  # the unanswerable case's unsupported answer is not counted here
    assert agg["citation_precision"] == 1.0
    assert agg["latency_p50_ms"] == 250.0
    assert agg["latency_p95_ms"] == pytest.approx(385.0)


def test_aggregate_of_nothing_applicable_is_none():
    agg = M.aggregate([GoldenCase(id="u", question="q", answerable=False)], [M.case_metrics(
        GoldenCase(id="u", question="q", answerable=False), answer("", refused=True))])
    assert agg["hit@5"] is None and agg["false_refusal_rate"] is None and agg["refusal_accuracy"] == 1.0
    assert agg["latency_p50_ms"] is None


def test_risk_coverage_sweeps_gate_thresholds():
    unans = GoldenCase(id="u", question="q", answerable=False)
    cases = [CASE, CASE, unans, unans]
    gate = lambda s: {"gate_score": s, "gate_threshold": 0.5}  # noqa: E731
    answers = [
        answer("Soft power: Joseph Nye [1].", [(1, "p-nye")], [NYE], support=gate(0.9)),  # right
        answer("No.", refused=True, support=gate(0.3)),  # answerable, refused by the gate
        answer("Made up [1].", [(1, "p-nye")], [NYE], support=gate(0.6)),  # unanswerable answered: wrong
        answer("No.", refused=True, support=gate(0.1)),  # right refusal
    ]
    rc = M.risk_coverage(cases, answers)
    assert rc["threshold"] == 0.5 and rc["n_scored"] == 4
    assert rc["current"] == {"threshold": 0.5, "coverage": 0.5, "risk": 0.5}
    by_t = {p["threshold"]: (p["coverage"], p["risk"]) for p in rc["points"]}
    assert by_t[0.9] == (0.25, 0.0)
    assert by_t[None] == (1.0, 0.75)  # answer everything: only the first is right
    assert by_t[0.3] == (0.75, pytest.approx(2 / 3))


def test_risk_coverage_without_gate_scores():
    rc = M.risk_coverage([CASE], [answer("x")])
    assert rc["n_scored"] == 0 and rc["points"] == [] and rc["current"] is None
