"""Short answers: the tree evaluator, the packaged span model, and how a span leads an answer."""
from __future__ import annotations

import numpy as np
import pytest

from eval.metrics import judge_sentences
from rag.answer.spans import NoSpans, candidates, lead_with, load_spans, short_answer
from rag.answer.trees import TreeEnsemble
from rag.types import Citation, ShortAnswer

from .conftest import benchmark_data


def test_tree_ensemble_matches_scikit_learn():
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5))
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(int)
    model = HistGradientBoostingClassifier(max_iter=20, early_stopping=False, random_state=0).fit(x, y)
    trees = TreeEnsemble.from_dict(TreeEnsemble.from_sklearn(model).to_dict())  # through its JSON form
    probe = rng.normal(size=(50, 5))
    assert np.allclose(trees.probability(probe), model.predict_proba(probe)[:, 1], atol=1e-9)


def test_candidates_are_runs_of_the_sentence():
    sentence = "Soft power, a term coined by Joseph Nye, refers to attraction."
    spans = {sentence[a:b] for a, b, _ in candidates("Who coined soft power?", sentence, ["who"])}
    assert "Joseph Nye" in spans
    assert "by" not in spans  # a run never ends on a stopword
    assert all(1 <= len(s.split()) <= 6 for s in spans)


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("Who coined the term soft power?", "Soft power, a term coined by Joseph Nye, refers to the ability to attract.", "Joseph Nye"),
        ("In what year did the treaty enter into force?", "After a long ratification, the treaty entered into force in 1994.", "1994"),
    ],
)
def test_packaged_model_finds_the_answering_span(question, sentence, expected):
    best = load_spans().scores(question, sentence)[0]
    assert sentence[best.start : best.end] == expected


def _citation(quote: str, start: int, n: int = 1) -> Citation:
    return Citation(n=n, chunk_id="c", source="s.txt", section="", quote=quote, start=start, end=start + len(quote))


def test_short_answer_offsets_slice_the_source():
    source = "Intro. Soft power, a term coined by Joseph Nye, refers to the ability to attract."
    quote = source[7:]
    short = short_answer(load_spans(), "Who coined the term soft power?", [_citation(quote, 7)])
    assert short is not None and source[short.start : short.end] == short.text == "Joseph Nye"
    assert lead_with(short, "Soft power ... [1].") == "Joseph Nye [1]. Soft power ... [1]."


def test_a_span_of_list_items_cites_each_line():
    short = ShortAnswer("- Protection of civilians.\n- Monitoring ceasefires", 7, 10, 59, 1.0)
    text = lead_with(short, "Peacekeeping protects [7].")
    assert text == "- Protection of civilians [7].\n- Monitoring ceasefires [7]\n\nPeacekeeping protects [7]."
    passage = "Tasks:\n- Protection of civilians.\n- Monitoring ceasefires\nPeacekeeping protects."
    judged = judge_sentences({"answer": text, "citations": [{"n": 7, "chunk_id": "c7"}],
                              "retrieved": [{"chunk_id": "c7", "text": passage}]})
    assert len(judged) == 3 and all(ok for _, ok in judged)  # every line cited and supported
    headed = ShortAnswer("Core tasks:\n- Protection of civilians!\n- Monitoring ceasefires", 2, 0, 60, 1.0)
    assert lead_with(headed, "").startswith("Core tasks [2]:\n- Protection of civilians [2]!\n- Monitoring ceasefires [2]")


def test_no_spans_and_no_citations_give_no_short_answer():
    assert short_answer(NoSpans(), "Who?", [_citation("Joseph Nye said so.", 0)]) is None
    assert short_answer(load_spans(), "Who?", []) is None
    assert lead_with(None, "text [1].") == "text [1]."


def test_cue_words_are_question_wording_not_one_articles_topic():
    from eval.train_spans import cue_words

    asked = [("How many ctenophores are there?", "Ctenophora.txt")] * 30
    asked += [(f"How old is {a}?", f"{a}.txt") for a in ("Rome", "Paris", "Oslo")]
    cues = cue_words([{"question": q, "sources": [src]} for q, src in asked])
    assert "how" in cues
    assert "ctenophores" not in cues  # frequent, but opens the questions of one article only


def test_packaged_cue_words_open_questions_of_most_dev_articles():
    from eval.train_spans import CUE_SPREAD, answerable_questions
    from rag.answer.spans import first_words

    dev = answerable_questions("dev", benchmark_data("squad2"))
    articles = {c["sources"][0] for c in dev}
    for cue in load_spans().cues:
        opened = {c["sources"][0] for c in dev if cue in first_words(c["question"])}
        assert len(opened) >= CUE_SPREAD * len(articles), cue
