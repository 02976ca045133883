"""Retrieval reordered by the reader (rag/answer/rerank.py): the ordering rule, and the chain's
rerank step with a fake reader over a fixed retriever of eight passages."""
from __future__ import annotations

import pytest

from rag.answer.reader import Reading
from rag.answer.rerank import WEIGHT, rerank
from rag.types import Passage

from .conftest import FakeEmbeddings
from .test_chain import ALWAYS, FixedRetriever

TEXTS = [f"Option -{c} does thing number {i}. It is documented here." for i, c in enumerate("abcdefgh")]
PASSAGES = [Passage(text=t, source="tool.txt", section="OPTIONS", chunk_id=f"c{i}", start=100 * i, end=100 * i + len(t), score=0.9 - i / 100)
            for i, t in enumerate(TEXTS)]


def reading(i: int, sure: float) -> Reading:
    """A reading of passage ``i`` whose answerability plus span margin is ``sure``."""
    return Reading(i, 0, 9, span_score=sure / 2, null_score=0.0, answerable=sure / 2)


def test_a_passage_the_reader_is_sure_of_climbs_and_retrieval_breaks_close_calls():
    readings = [reading(i, 0.0) for i in range(8)]
    readings[6] = reading(6, 10.0)  # far surer than its rank's distance from the top
    readings[3] = reading(3, 1.5 / WEIGHT)  # a little surer: climbs one place (3 - 1.5 < 2)
    kept, renumbered = rerank(list(PASSAGES), readings, 5)
    assert [p.chunk_id for p in kept] == ["c6", "c0", "c1", "c3", "c2"]
    assert [r.passage for r in renumbered] == [0, 1, 2, 3, 4]  # each reading follows its passage
    assert renumbered[0].answerable == readings[6].answerable


def test_equal_readings_keep_the_retrieval_order():
    kept, _ = rerank(list(PASSAGES), [reading(i, 2.0) for i in range(8)], 5)
    assert [p.chunk_id for p in kept] == ["c0", "c1", "c2", "c3", "c4"]


class TextReader:
    """Reads each passage as ``sure[text]`` says (0 for the others), and records what it was given."""

    def __init__(self, sure: dict[str, float]):
        self.sure, self.calls = sure, []

    def read(self, question, texts):
        self.calls.append(list(texts))
        return [Reading(i, 0, len(t.split(".")[0]), span_score=self.sure.get(t, 0.0), null_score=0.0,
                        answerable=self.sure.get(t, 0.0)) for i, t in enumerate(texts)]


def chain(reader, depth=8):
    from rag.answer.chain import build_chain
    from rag.answer.reader import ReaderGate
    from rag.settings import Settings

    gate = ReaderGate({"reader_answerable": 1.0}, 0.0, 0.5, -100.0, 5, {})
    return build_chain(Settings(persist_dir="/nonexistent", answer_core="reader", rerank_depth=depth),
                       embeddings=FakeEmbeddings(), retriever=FixedRetriever(PASSAGES), gate=ALWAYS,
                       reader=reader, reader_gate=gate)


def test_the_chain_reads_eight_passages_once_and_answers_from_the_one_it_ranks_first():
    reader = TextReader({TEXTS[6]: 6.0})
    answer = chain(reader).invoke("Which option does thing number 6?")
    assert reader.calls == [TEXTS]  # read once: the five kept reuse their readings
    assert [p["chunk_id"] for p in answer.to_dict()["retrieved"]][0] == "c6"
    assert not answer.refused and answer.citations[0].chunk_id == "c6"
    assert answer.short_answer is not None and answer.short_answer.text == "Option -g does thing number 6"


@pytest.mark.parametrize("depth", [5, 0])
def test_a_depth_of_k_or_less_reads_only_the_first_k_in_retrieval_order(depth):
    reader = TextReader({TEXTS[6]: 6.0})
    answer = chain(reader, depth).invoke("Which option does thing number 6?")
    assert reader.calls == [TEXTS[:5]]
    assert [p["chunk_id"] for p in answer.to_dict()["retrieved"]] == ["c0", "c1", "c2", "c3", "c4"]
