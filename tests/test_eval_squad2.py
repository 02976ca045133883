"""``ragbot bench squad2`` on a tiny subset of the benchmark data (../shared/benchmarks/squad2; skipped
without it) or on a hand-made official JSON: the real chain and ingestion, fake embeddings."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from eval import squad2 as S
from eval.golden import GoldenCase, load_golden
from eval.metrics import normalize
from rag.cli import main
from rag.errors import InputError
from rag.settings import Settings

from .conftest import FakeEmbeddings, benchmark_data

DEV_ARTICLE, TEST_ARTICLE = "Amazon_rainforest.txt", "Construction.txt"  # the two smallest, one per split


def tiny_data(folder: Path, per_article: int = 3, unanswerable: int = 2) -> Path:
    """Two of the benchmark's articles and 10 of their questions: 3 answerable per article, 2 unanswerable per split."""
    data = benchmark_data("squad2")
    (folder / "articles").mkdir(parents=True)
    for name in (DEV_ARTICLE, TEST_ARTICLE):
        shutil.copy(data / "articles" / name, folder / "articles" / name)
    rows = [json.loads(line) for line in (data / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
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



def test_calibrate_answers_test_with_the_decision_fitted_on_dev(tmp_path):
    data = tiny_data(tmp_path / "data", per_article=16, unanswerable=8)
    out = tmp_path / "out"
    result = S.run_squad2(Settings(), data_dir=data, out=out, split="test", calibrate=True, embeddings=FakeEmbeddings())
    figures = result["figures"]
    assert figures["dev"]["cases"] == 24 and figures["calibration"]["cases"] == 24
    for split, source in (("dev", "shipped"), ("test", "collection")):
        report = json.loads((out / split / "report.json").read_text())
        assert {c["support"]["decision"].split(" ")[0] for c in report["cases"] if "reader" in c["support"]} == {source}
    assert "test answered with the collection's decision" in S.format_table(result)


SKY = "Sky UK Limited is a British broadcaster. It was formed in 1990 by a merger. Its headquarters are in Isleworth."
SPORT = "Sky broadcasts sport. Its main channel is Sky One."
FRESNO = " Fresno is a city in California. It lies in the San Joaquin Valley. "  # SQuAD's contexts may carry spaces


def official_json(path: Path) -> Path:
    """A small file in SQuAD 2.0's official format (two articles, as dev-v2.0.json has 35)."""
    year = SKY.index("1990")
    data = {"version": "v2.0", "data": [
        {"title": "Sky_(United_Kingdom)", "paragraphs": [
            {"context": SKY, "qas": [
                {"id": "a1", "question": "When was Sky UK formed?", "is_impossible": False,
                 "answers": [{"text": "1990", "answer_start": year}, {"text": "in 1990", "answer_start": year - 3},
                             {"text": "1990", "answer_start": year}]},
                {"id": "a2", "question": "When was Sky UK dissolved?", "is_impossible": True, "answers": [],
                 "plausible_answers": [{"text": "1990", "answer_start": year}]},
            ]},
            # an offset that misses its answer (a few do in SQuAD): the answer is found by its text
            {"context": SPORT, "qas": [{"id": "a3", "question": "What is Sky's main channel?", "is_impossible": False,
                                        "answers": [{"text": "Sky One", "answer_start": 0}]}]},
        ]},
        {"title": "Fresno,_California", "paragraphs": [
            {"context": FRESNO, "qas": [{"id": "b1", "question": "Where does Fresno lie?", "is_impossible": False,
                                         "answers": [{"text": "the San Joaquin Valley", "answer_start": FRESNO.index("the San")}]}]},
        ]},
    ]}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_official_json_becomes_a_benchmark_folder(tmp_path):
    folder = S.from_official(official_json(tmp_path / "dev-v2.0.json"), tmp_path / "data")
    assert sorted(p.name for p in (folder / "articles").iterdir()) == ["Fresno_California.txt", "Sky_United_Kingdom.txt"]
    assert (folder / "articles" / "Sky_United_Kingdom.txt").read_text(encoding="utf-8") == f"Sky (United Kingdom)\n\n{SKY}\n\n{SPORT}\n"
    assert (folder / "articles" / "Fresno_California.txt").read_text(encoding="utf-8") == f"Fresno, California\n\n{FRESNO.strip()}\n"
    rows = [json.loads(line) for line in (folder / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    sky = ["Sky_United_Kingdom.txt"]
    assert rows == [
        {"id": "sq-a1", "question": "When was Sky UK formed?", "split": "test", "answerable": True,
         "must_include_any": [["1990", "in 1990"]], "reference": "1990", "evidence": ["It was formed in 1990 by a merger."],
         "sources": sky},
        {"id": "sq-a2", "question": "When was Sky UK dissolved?", "split": "test", "answerable": False},
        {"id": "sq-a3", "question": "What is Sky's main channel?", "split": "test", "answerable": True,
         "must_include_any": [["Sky One"]], "reference": "Sky One", "evidence": ["Its main channel is Sky One."], "sources": sky},
        {"id": "sq-b1", "question": "Where does Fresno lie?", "split": "test", "answerable": True,
         "must_include_any": [["the San Joaquin Valley"]], "reference": "the San Joaquin Valley",
         "evidence": ["It lies in the San Joaquin Valley."], "sources": ["Fresno_California.txt"]},
    ]
    cases = load_golden([folder / "questions.jsonl"])  # the golden-set format, as the shared copy's
    assert [c.answerable for c in cases] == [True, False, True, True]


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not JSON (Expecting property name enclosed in double quotes at line 1)"),
        ("[]", "expected SQuAD 2.0's data[].title, data[].paragraphs[].context and .qas[] (missing or malformed: "),
        ('{"data": [{"paragraphs": []}]}', "expected SQuAD 2.0's data[].title, data[].paragraphs[].context and .qas[] "
                                           "(missing or malformed: 'title')"),
        ('{"data": []}', "no questions; expected SQuAD 2.0's data[].title, data[].paragraphs[].context and .qas[]"),
    ],
)
def test_bad_official_json(tmp_path, content, message):
    path = tmp_path / "dev.json"
    path.write_text(content)
    with pytest.raises(InputError) as err:
        S.from_official(path, tmp_path / "data")
    assert str(err.value).startswith(f"{path}: {message}")


def test_bench_runs_on_the_official_json(tmp_path):
    path = official_json(tmp_path / "dev-v2.0.json")
    out = tmp_path / "out"
    result = S.run_squad2(Settings(), data_dir=path, out=out, embeddings=FakeEmbeddings())
    assert set(result["figures"]) == {"index", "test"}  # every converted question is `test`
    assert result["figures"]["index"]["articles"] == 2
    fig = result["figures"]["test"]
    assert (fig["cases"], fig["answerable"], fig["unanswerable"], fig["errors"]) == (4, 3, 1, 0)
    report = json.loads((out / "test" / "report.json").read_text())
    assert report["config"]["golden"] == [str(path)]


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


def test_squad2_benchmark_data_is_complete():
    data = benchmark_data("squad2")
    qs = load_golden([data / "questions.jsonl"])
    assert len(qs) == 5795 and sum(not c.answerable for c in qs) == 2775
    assert {c.split for c in qs} == {"dev", "test"}
    articles = {p.name: normalize(p.read_text(encoding="utf-8")) for p in (data / "articles").glob("*.txt")}
    assert len(articles) == 19
    for c in qs:
        if c.answerable:
            assert c.must_include_any and c.reference and len(c.sources) == 1
            assert all(normalize(e) in articles[c.sources[0]] for e in c.evidence), c.id
    dev_articles = {c.sources[0] for c in qs if c.answerable and c.split == "dev"}
    test_articles = {c.sources[0] for c in qs if c.answerable and c.split == "test"}
    # 9 dev and 10 test articles (the data README says 10 and 9; the questions file is what counts)
    assert not dev_articles & test_articles and len(dev_articles) == 9 and len(test_articles) == 10
    readme = (data / "README.md").read_text(encoding="utf-8")
    assert "CC BY-SA 4.0" in readme and "Rajpurkar" in readme


@pytest.mark.integration
def test_bench_on_a_small_real_subset(tmp_path, real_embeddings):
    data = tiny_data(tmp_path / "data", per_article=5, unanswerable=3)
    result = S.run_squad2(Settings(), data_dir=data, out=tmp_path / "out", embeddings=real_embeddings)
    for split in ("dev", "test"):
        fig = result["figures"][split]
        assert fig["cases"] == 8 and fig["errors"] == 0
        assert fig["hit@5"] >= 0.6  # two articles in the index: the evidence sentence is easy to find
        assert fig["latency_p50_ms"] > 0
