"""Bench helpers: latency summaries, ratios, the result JSON and its files, child-process memory."""
from __future__ import annotations

import json

import pytest

from eval.bench import RESULT_KEYS, bench_result, dir_size_mb, rate, ratio, run_child, summarize, write_result


@pytest.mark.parametrize(
    "values, expected",
    [
        ([], {"n": 0, "p50": None, "p95": None, "mean": None, "max": None}),
        ([7.0], {"n": 1, "p50": 7.0, "p95": 7.0, "mean": 7.0, "max": 7.0}),
        ([1, 2, 3, 4], {"n": 4, "p50": 2.5, "p95": 3.85, "mean": 2.5, "max": 4.0}),
        (list(range(1, 101)), {"n": 100, "p50": 50.5, "p95": 95.05, "mean": 50.5, "max": 100.0}),
    ],
)
def test_summarize_matches_numpy_linear_percentiles(values, expected):
    assert summarize(values) == expected


def test_summarize_ignores_input_order():
    assert summarize([5, 1, 4, 2, 3]) == summarize([1, 2, 3, 4, 5])


@pytest.mark.parametrize(
    "fn, args, expected",
    [
        (rate, (10, 4), 2.5),
        (rate, (10, 0), None),
        (ratio, (3, 4), 0.75),
        (ratio, (None, 4), None),
        (ratio, (3, 0), None),
        (ratio, (3, None), None),
    ],
)
def test_rate_and_ratio(fn, args, expected):
    assert fn(*args) == expected


def test_bench_result_has_the_documented_shape():
    result = bench_result("demo", {"a": {"p50": 1.0}}, limit=5, notes=["n1"])
    assert tuple(result) == RESULT_KEYS
    assert result["benchmark"] == "demo"
    assert result["limit"] == 5
    assert result["figures"] == {"a": {"p50": 1.0}}
    assert result["notes"][0] == "n1" and "shared machine" in result["notes"][-1]
    assert set(result["machine"]) == {"cpu", "cores", "python", "platform"}
    assert result["machine"]["cores"] >= 1
    json.dumps(result)  # serialisable as is


def test_write_result_writes_json_and_png(tmp_path):
    result = bench_result("demo", {"x": 2})

    def plot(res, ax):
        ax.bar(["x"], [res["figures"]["x"]])

    paths = write_result(result, tmp_path / "out", plot)
    assert [p.name for p in paths] == ["demo.json", "demo.png"]
    assert json.loads(paths[0].read_text())["figures"] == {"x": 2}
    assert paths[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_result_rejects_a_result_without_its_keys(tmp_path):
    with pytest.raises(ValueError, match="lacks figures"):
        write_result({"benchmark": "x", "created": "", "machine": {}, "limit": None, "notes": []}, tmp_path)


def test_run_child_returns_last_json_line_and_its_own_peak_memory():
    out, rss = run_child("import json; b = bytearray(60_000_000); print('noise'); print(json.dumps({'ok': len(b)}))")
    assert out == {"ok": 60_000_000}
    assert rss > 60  # MB: the child's bytearray, not this process


def test_run_child_peak_memory_is_not_its_parents():
    # wait4's ru_maxrss of a child starts at the parent's peak: a parent of 300 MB made a child
    # that printed one line report 300 MB
    big = bytearray(300_000_000)
    big[::4096] = b"x" * len(big[::4096])
    _, rss = run_child("import json; print(json.dumps({}))")
    assert 5 < rss < 150, rss
    del big


def test_run_child_reports_a_failing_child():
    with pytest.raises(RuntimeError, match="exited with 3"):
        run_child("import sys; sys.exit(3)")


def test_dir_size_mb(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 1_500_000)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"x" * 500_000)
    assert dir_size_mb(tmp_path) == 2.0


def test_bench_command_lists_known_names_for_an_unknown_one():
    from types import SimpleNamespace

    from eval.cli import cmd_bench
    from rag.errors import RagbotError

    with pytest.raises(RagbotError) as err:
        cmd_bench(SimpleNamespace(what="nope", out="x", limit=None), None)
    for name in ("ingest", "query", "growth", "memory", "server", "encoders", "scifact", "all"):
        assert name in str(err.value)


def test_every_registered_benchmark_has_a_command_and_is_in_the_help(capsys):
    from eval.benches import BENCHES
    from rag.cli import main

    for bench in BENCHES.values():
        assert callable(bench.load()), bench.command
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "--help"])
    assert exit_.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert f"{', '.join(BENCHES)} or all (default all)" in shown
    for name, bench in BENCHES.items():
        assert f"{name} {bench.about}" in shown


@pytest.mark.parametrize(
    "argv, message",
    [
        (["nope"], "unknown benchmark 'nope'; known: all, encoders, growth, ingest, load, manuals, memory, pages, query, "
                   "scifact, server, squad2"),
        (["pages", "--data", "x"], "--data replaces one benchmark's data, and pages reads none; name one of: scifact, "
                                   "squad2, manuals, ingest, encoders, growth, memory"),
        (["all", "--data", "x"], "--data replaces one benchmark's data, not all of theirs; name one of: scifact, squad2, "
                                 "manuals, ingest, encoders, growth, memory"),
        (["scifact", "--data", "{t}/nope"], "scifact data not found at {t}/nope (given by --data); pass --data PATH (a BEIR "
                                            "folder of corpus.jsonl, queries.jsonl and qrels/test.tsv), or set "
                                            "RAGBOT_BENCHMARKS_DIR to a folder holding scifact/"),
    ],
)
def test_bad_bench_arguments(argv, message, capsys, tmp_path):
    from rag.cli import main

    assert main(["bench", *(a.format(t=tmp_path) for a in argv), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == "ragbot: error: " + message.format(t=tmp_path)


def test_tutorial_pipeline_splits_1000_200_and_stores_every_chunk(tmp_path):
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from eval.bench_ingest import tutorial_pipeline

    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("word " * 500)  # 2,500 characters: three 1000/200 chunks
    (folder / "b.txt").write_text("short text")
    got = tutorial_pipeline(folder, tmp_path / "chroma", DeterministicFakeEmbedding(size=8))
    assert got["chunks"] == 4
    assert got["chunks_per_s"] > 0 and got["corpus_chars_per_s"] > 0
    import chromadb

    assert chromadb.PersistentClient(path=str(tmp_path / "chroma")).get_collection("langchain").count() == 4


def test_ragbot_chunk_texts_are_what_ingestion_embeds(tmp_path):
    from eval.bench_ingest import ragbot_chunk_texts
    from rag.settings import Settings

    (tmp_path / "x.txt").write_text("Title\n" + "A sentence about cells. " * 80)
    texts = ragbot_chunk_texts(tmp_path, Settings())
    assert len(texts) >= 2 and all(len(t) <= 800 + 100 for t in texts)
