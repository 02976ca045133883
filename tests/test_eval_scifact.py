"""SciFact benchmark plumbing on a tiny hand-made data set, with a fake ingest and retriever."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from eval import scifact as S
from rag.errors import InputError
from rag.settings import Settings
from rag.types import Passage

from .conftest import benchmark_data


def test_ndcg_at_10_hand_computed():
    # ranked a, x, b with grades a=1, b=2 and an unretrieved c=1
    judged = {"a": 1, "b": 2, "c": 1}
    dcg = 1 / math.log2(2) + 2 / math.log2(4)
    ideal = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert S.ndcg_at_k(["a", "x", "b"], judged) == pytest.approx(dcg / ideal)
    assert S.recall_at_k(["a", "x", "b"], judged) == pytest.approx(2 / 3)
    assert S.ndcg_at_k(["b", "a", "c"], judged) == pytest.approx(1.0)
    assert S.ndcg_at_k([], judged) == 0.0
    # only the first 10 count
    assert S.ndcg_at_k([f"n{i}" for i in range(10)] + ["a"], {"a": 1}) == 0.0


def test_collapse_keeps_first_occurrence_of_each_document():
    ps = [Passage(c, src, "", "", 0, 0) for c, src in [("1", "7.txt"), ("2", "3.txt"), ("3", "7.txt"), ("4", "sub/9.txt")]]
    assert S.collapse(ps) == ["7", "3", "9"]


@pytest.fixture
def data_dir(tmp_path) -> Path:
    d = tmp_path / "scifact"
    (d / "qrels").mkdir(parents=True)
    docs = [{"_id": str(i), "title": f"Title {i}", "text": f"Abstract number {i}."} for i in range(1, 9)]
    (d / "corpus.jsonl").write_text("".join(json.dumps(x) + "\n" for x in docs))
    queries = [{"_id": "q1", "text": "claim one"}, {"_id": "q2", "text": "claim two"}, {"_id": "q3", "text": "claim three"},
               {"_id": "train", "text": "not judged in test"}]
    (d / "queries.jsonl").write_text("".join(json.dumps(x) + "\n" for x in queries))
    (d / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\t5\t1\nq2\t6\t1\nq2\t7\t1\nq3\t8\t1\n")
    return d


def test_limit_keeps_the_relevant_documents_of_the_chosen_claims(data_dir):
    data = S.load_scifact(data_dir)
    assert list(data.queries) == ["q1", "q2", "q3"]
    sub = S.select_subset(data, 4)
    assert list(sub.queries) == ["q1", "q2", "q3"] and set(sub.corpus) == {"5", "6", "7", "8"}
    sub = S.select_subset(data, 3)  # q3's document no longer fits
    assert list(sub.queries) == ["q1", "q2"] and set(sub.corpus) == {"5", "6", "7"}
    sub = S.select_subset(data, 5)  # one distractor, in corpus order
    assert set(sub.corpus) == {"1", "5", "6", "7", "8"}
    assert S.select_subset(data, None) is data


@pytest.mark.parametrize("limit, message", [(0, "--limit must be at least 1, got 0")])
def test_bad_limits(data_dir, limit, message):
    with pytest.raises(InputError, match=message):
        S.select_subset(S.load_scifact(data_dir), limit)


def test_bad_qrels_header(tmp_path, data_dir):
    (data_dir / "qrels" / "test.tsv").write_text("q\td\ts\n")
    with pytest.raises(InputError, match="expected the header"):
        S.load_scifact(data_dir)


class FakeRetriever:
    """Ranks fixed documents per claim, two chunks per document, whatever the method."""

    ranking = {"claim one": ["5", "1"], "claim two": ["2", "7", "6"], "claim three": []}

    def __init__(self, settings):
        self.settings = settings
        self.calls = []

    def search(self, query, k=10, method="hybrid"):
        self.calls.append((query, k, method))
        ids = self.ranking[query] if method != "lexical" else list(reversed(self.ranking[query]))
        return [Passage(f"{d}-{i}", f"{d}.txt", "", "", 0, 0) for d in ids for i in range(2)][:k]


def test_run_scifact_ingests_one_file_per_abstract_and_scores_each_method(data_dir, tmp_path):
    seen = {}

    def fake_ingest(paths, settings, progress=False):
        folder = Path(paths[0])
        seen["files"] = sorted(p.name for p in folder.iterdir())
        seen["first"] = (folder / "5.txt").read_text()
        seen["settings"] = settings

        class Summary:
            chunks_total = 8
        return Summary()

    retrievers = []

    def factory(settings):
        retrievers.append(FakeRetriever(settings))
        return retrievers[-1]

    result = S.run_scifact(Settings(chroma_host="example.invalid", persist_dir="data/chroma"), data_dir=data_dir,
                           work_dir=tmp_path / "work", ingest_fn=fake_ingest, retriever_factory=factory)
    assert seen["files"] == [f"{i}.txt" for i in range(1, 9)]
    assert seen["first"] == "Title 5\nAbstract number 5.\n"
    assert seen["settings"].chroma_host is None and seen["settings"].collection == "scifact"
    assert seen["settings"].persist_dir == str(tmp_path / "work" / "chroma")
    assert {c[1] for c in retrievers[0].calls} == {S.K_CHUNKS}
    figures = result["figures"]
    dense = figures["methods"]["dense"]
    # q1: 5 first -> 1; q2: 7 at rank 2, 6 at rank 3 of ideal two; q3: nothing -> 0
    q2 = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert dense["ndcg@10"] == pytest.approx(round((1 + q2 + 0) / 3, 4))
    assert dense["recall@10"] == pytest.approx(round(2 / 3, 4))
    assert dense["claims_with_fewer_than_10_documents"] == 3
    lexical = figures["methods"]["lexical"]
    assert lexical["per_query_ndcg@10"]["q1"] == pytest.approx(round(1 / math.log2(3), 4))
    assert set(figures["methods"]) == {"dense", "lexical", "hybrid"}
    assert figures["documents"] == 8 and figures["claims"] == 3 and figures["chunks"] == 8
    assert result["benchmark"] == "scifact" and result["limit"] is None and result["machine"]["cores"] >= 1
    table = S.format_table(result)
    assert "ragbot hybrid" in table and "0.665" in table and "0.645-0.674" in table


def test_scifact_benchmark_data_is_complete():
    folder = benchmark_data("scifact")
    data = S.load_scifact()  # found where eval.datasets looks, as `ragbot bench scifact` finds it
    assert len(data.corpus) == 5183 and len(data.queries) == 300
    assert sum(len(v) for v in data.qrels.values()) == 339
    assert "CC BY-NC" in (folder / "README.md").read_text(encoding="utf-8")
