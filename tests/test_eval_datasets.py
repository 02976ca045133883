"""Where benchmark data is read from: --data, else $RAGBOT_BENCHMARKS_DIR/NAME, else ../shared/benchmarks/NAME."""
from __future__ import annotations

from pathlib import Path

import pytest

from eval import datasets
from rag.errors import InputError


@pytest.fixture
def places(tmp_path, monkeypatch):
    """An empty shared folder and an empty $RAGBOT_BENCHMARKS_DIR, both under tmp_path."""
    monkeypatch.setattr(datasets, "SHARED", tmp_path / "shared")
    monkeypatch.delenv(datasets.ENV, raising=False)
    (tmp_path / "shared").mkdir()
    (tmp_path / "env").mkdir()
    return tmp_path


def test_the_default_is_the_shared_folder_beside_the_checkout():
    root = Path(datasets.__file__).resolve().parents[1]
    assert (root / "eval" / "datasets.py").is_file()
    assert datasets.SHARED == root.parent / "shared" / "benchmarks"


def test_data_then_environment_then_shared(places, monkeypatch):
    (places / "shared" / "squad2").mkdir()
    assert datasets.benchmark_dir("squad2") == places / "shared" / "squad2"
    (places / "env" / "squad2").mkdir()
    monkeypatch.setenv(datasets.ENV, str(places / "env"))
    assert datasets.benchmark_dir("squad2") == places / "env" / "squad2"
    official = places / "dev-v2.0.json"
    official.write_text("{}")
    assert datasets.benchmark_dir("squad2", official) == official  # a file: the benchmark converts it
    assert datasets.benchmark_dir("squad2", str(places / "shared" / "squad2")) == places / "shared" / "squad2"


@pytest.mark.parametrize(
    "name, env, data, message",
    [
        ("squad2", False, None,
         "squad2 data not found at {t}/shared/squad2 (the default, ../shared/benchmarks beside the checkout); pass --data "
         "PATH (the official dev-v2.0.json, or a folder of articles/ and questions.jsonl), or set RAGBOT_BENCHMARKS_DIR to "
         "a folder holding squad2/"),
        ("scifact", True, None,
         "scifact data not found at {t}/env/scifact ($RAGBOT_BENCHMARKS_DIR/scifact); pass --data PATH (a BEIR folder of "
         "corpus.jsonl, queries.jsonl and qrels/test.tsv), or set RAGBOT_BENCHMARKS_DIR to a folder holding scifact/"),
        ("squad2", True, "nope.json",
         "squad2 data not found at {t}/nope.json (given by --data); pass --data PATH (the official dev-v2.0.json, or a "
         "folder of articles/ and questions.jsonl), or set RAGBOT_BENCHMARKS_DIR to a folder holding squad2/"),
    ],
)
def test_missing_data_says_where_it_looked_and_how_to_pass_it(places, monkeypatch, name, env, data, message):
    if env:
        monkeypatch.setenv(datasets.ENV, str(places / "env"))
    with pytest.raises(InputError) as err:
        datasets.benchmark_dir(name, places / data if data else None)
    assert str(err.value) == message.format(t=places)
