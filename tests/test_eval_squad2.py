"""``ragbot bench squad2`` on a tiny subset of the shipped data: the real chain and ingestion, fake embeddings."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from eval import squad2 as S
from eval.golden import GoldenCase, load_golden
from eval.metrics import normalize
from rag.cli import main
from rag.settings import Settings

from .conftest import FakeEmbeddings

DEV_ARTICLE, TEST_ARTICLE = "Amazon_rainforest.txt", "Construction.txt"  # the two smallest, one per split


def tiny_data(folder: Path, per_article: int = 3, unanswerable: int = 2) -> Path:
    """Two shipped articles and 10 of their questions: 3 answerable per article, 2 unanswerable per split."""
    (folder / "articles").mkdir(parents=True)
    for name in (DEV_ARTICLE, TEST_ARTICLE):
        shutil.copy(S.DATA_DIR / "articles" / name, folder / "articles" / name)
    rows = [json.loads(line) for line in (S.DATA_DIR / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    picked = []
    for split, article in (("dev", DEV_ARTICLE), ("test", TEST_ARTICLE)):
        picked += [r for r in rows if r["split"] == split and r.get("sources") == [article]][:per_article]
        picked += [r for r in rows if r["split"] == split and not r["answerable"]][:unanswerable]
    (folder / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in picked), encoding="utf-8")
    return folder


def test_bench_ingests_answers_and_reports_each_split(tmp_path):
    data = tiny_data(tmp_path / "data")
    out = tmp_path / "out"
    result = S.run_squad2(Settings(persist_dir="data/chroma", chroma_host="example.invalid"), data_dir=data, out=out,
                          embeddings=FakeEmbeddings())
    figures = result["figures"]
    assert figures["index"]["articles"] == 2 and figures["index"]["chunks"] > 10
    for split in ("dev", "test"):
        fig = figures[split]
        assert (fig["cases"], fig["answerable"], fig["unanswerable"], fig["errors"]) == (5, 3, 2, 0)
        report = json.loads((out / split / "report.json").read_text())
        assert (out / split / "report.md").exists() and (out / split / "report.html").exists()
        assert report["config"]["split"] == split and report["config"]["collection"] == "squad2"
        assert {c["split"] for c in report["cases"]} == {split}
        for name in S.HEADLINE:  # the bench figures are the report's, with its intervals
            assert fig[name] == pytest.approx(report["metrics"][name], abs=1e-4)
            assert fig["ci95"][name] == report["metrics_ci"][name]
            lo, hi = fig["ci95"][name]
            assert lo - 1e-4 <= fig[name] <= hi + 1e-4
        assert fig["risk_coverage"]["points"], "the chain reports gate scores, so there is a curve"
        # every answer cites the articles' text: spans slice their source file to the quote
        for case in report["cases"]:
            for c in case["citations"]:
                text = (data / "articles" / c["source"]).read_text(encoding="utf-8")
                assert text[c["start"]:c["end"]] == c["quote"]
    table = S.format_table(result)
    lines = table.splitlines()
    assert lines[1].split()[:3] == ["split", "questions", "hit@5"]
    assert lines[3].startswith("dev ") and lines[4].startswith("test ")
    assert "5 (2 unans.)" in lines[3]


def test_bench_one_split_with_a_limit_into_a_kept_index(tmp_path):
    data = tiny_data(tmp_path / "data")
    keep = tmp_path / "index"
    kw = dict(data_dir=data, out=tmp_path / "out", split="test", limit=2, persist_dir=str(keep))
    first = S.run_squad2(Settings(), embeddings=FakeEmbeddings(), **kw)
    assert set(first["figures"]) == {"index", "test"} and first["figures"]["test"]["cases"] == 2
    assert first["limit"] == 2 and any("--limit 2" in n for n in first["notes"])
    assert not (tmp_path / "out" / "dev").exists()
    assert keep.is_dir()
    assert first["figures"]["index"]["files_added"] == 2
    second = S.run_squad2(Settings(), embeddings=FakeEmbeddings(), **kw)
    assert second["figures"]["index"]["chunks"] == first["figures"]["index"]["chunks"]
    assert (second["figures"]["index"]["files_added"], second["figures"]["index"]["files_unchanged"]) == (0, 2)


def cases(split: str, n: int) -> list[GoldenCase]:
    return [GoldenCase(f"{split}{i}", "q?", extra={"split": split}) for i in range(n)]


def test_select_cases_spreads_a_limit_over_each_split():
    everything = cases("dev", 10) + cases("test", 7)
    picked = S.select_cases(everything, "all", 3)
    assert [c.id for c in picked["dev"]] == ["dev0", "dev3", "dev6"]
    assert [c.id for c in picked["test"]] == ["test0", "test2", "test4"]
    assert list(S.select_cases(everything, "test")) == ["test"] and len(S.select_cases(everything)["dev"]) == 10
    assert len(S.select_cases(everything, "dev", 50)["dev"]) == 10


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--split", "train"], "ragbot: error: unknown split 'train'; known: dev, test, all"),
        (["--limit", "0"], "ragbot: error: --limit must be at least 1, got 0"),
    ],
)
def test_bad_bench_options(argv, message, capsys, tmp_path):
    assert main(["bench", "squad2", "--out", str(tmp_path), *argv]) == 2
    assert capsys.readouterr().err.strip() == message


def test_shipped_squad2_data_is_complete():
    qs = load_golden([S.DATA_DIR / "questions.jsonl"])
    assert len(qs) == 5795 and sum(not c.answerable for c in qs) == 2775
    assert {c.split for c in qs} == {"dev", "test"}
    articles = {p.name: normalize(p.read_text(encoding="utf-8")) for p in (S.DATA_DIR / "articles").glob("*.txt")}
    assert len(articles) == 19
    for c in qs:
        if c.answerable:
            assert c.must_include_any and c.reference and len(c.sources) == 1
            assert all(normalize(e) in articles[c.sources[0]] for e in c.evidence), c.id
    dev_articles = {c.sources[0] for c in qs if c.answerable and c.split == "dev"}
    test_articles = {c.sources[0] for c in qs if c.answerable and c.split == "test"}
    # 9 dev and 10 test articles (the data README says 10 and 9; the questions file is what counts)
    assert not dev_articles & test_articles and len(dev_articles) == 9 and len(test_articles) == 10
    assert "CC BY-SA 4.0" in (S.DATA_DIR / "LICENSE").read_text() and "Rajpurkar" in (S.DATA_DIR / "LICENSE").read_text()


@pytest.mark.integration
def test_bench_on_a_small_real_subset(tmp_path, real_embeddings):
    data = tiny_data(tmp_path / "data", per_article=5, unanswerable=3)
    result = S.run_squad2(Settings(), data_dir=data, out=tmp_path / "out", embeddings=real_embeddings)
    for split in ("dev", "test"):
        fig = result["figures"][split]
        assert fig["cases"] == 8 and fig["errors"] == 0
        assert fig["hit@5"] >= 0.6  # two articles in the index: the evidence sentence is easy to find
        assert fig["latency_p50_ms"] > 0
