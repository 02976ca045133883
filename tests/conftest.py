"""Shared fixtures: fast fakes by default, the real models behind the ``integration`` mark."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest


os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
INTEGRATION_MODULE = re.compile(r"^pytestmark = \[?\s*pytest\.mark\.integration\b", re.M)


def _fast_suite(config) -> bool:
    return " ".join(str(config.getoption("markexpr", "") or "").split()) == "not integration"


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """The fast suite (``-m "not integration"``) runs in two worker processes (pytest-xdist): 18 s
    instead of 29 s on 2 cores. An explicit ``-n`` (``-n 0`` for one process), ``-p no:xdist``,
    ``--pdb`` or ``--trace`` keeps one process; so does the full suite, whose integration tests
    share models and servers."""
    if (_fast_suite(config) and config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput")
            and config.getoption("numprocesses", None) is None and not config.getoption("collectonly")
            and not config.getoption("usepdb", False) and not config.getoption("trace", False)):
        config.option.numprocesses = 2


def pytest_ignore_collect(collection_path: Path, config):
    """Under ``-m "not integration"``, a module marked integration as a whole is not imported at all:
    importing gradio, the app and the servers for tests that are then deselected cost a third of
    the fast suite's time."""
    if _fast_suite(config) and collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        if INTEGRATION_MODULE.search(collection_path.read_text(encoding="utf-8")):
            return True
    return None


# pytest rewrites the asserts of every module of a distribution that has a pytest plugin, whether
# the plugin is enabled or not, and where bytecode is not written (PYTHONDONTWRITEBYTECODE, as on
# this machine) it does so again at every start: langsmith's 223 modules (imported by
# langchain_core), hypothesis's and anyio's cost 3.7 s of the fast suite's collection. Only the
# tests' own asserts need rewriting.
NOT_REWRITTEN = ("langsmith", "hypothesis", "anyio", "xdist")


def pytest_configure(config):
    from _pytest.assertion.rewrite import assertstate_key

    state = config.stash.get(assertstate_key, None)
    hook = getattr(state, "hook", None)
    if hook is not None and hasattr(hook, "_must_rewrite"):
        hook._must_rewrite.difference_update(NOT_REWRITTEN)
        hook._marked_for_rewrite_cache.clear()


CORPUS = ROOT / "data" / "corpus"
ESSAY = CORPUS / "political-impact-of-military-diplomacy.txt"


class FakeEmbeddings:
    """Deterministic bag-of-words vectors: texts sharing words get similar vectors. No model, no network."""

    id = "fake-bow"
    dimension = 64

    def __init__(self, fail_after: int | None = None):
        self.calls = 0
        self.texts_encoded = 0
        self.fail_after = fail_after

    def encode(self, texts, batch_size=None):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt("simulated kill")
        self.texts_encoded += len(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                h = int(hashlib.md5(w.strip(".,;:?!").encode()).hexdigest(), 16)
                out[i, h % self.dimension] += 1.0
            out[i, 0] += 0.01
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out

    def embed_documents(self, texts):
        return self.encode(texts).tolist()

    def embed_query(self, text):
        return self.encode([text])[0].tolist()


@pytest.fixture
def fake_embeddings():
    return FakeEmbeddings()


@pytest.fixture(scope="session")
def real_embeddings():
    from rag.embeddings import SentenceEmbeddings

    return SentenceEmbeddings()


@pytest.fixture
def settings(tmp_path):
    from rag.settings import Settings

    return Settings(persist_dir=str(tmp_path / "chroma"), collection="test", corpus_dir=str(tmp_path / "corpus"))


@pytest.fixture
def corpus(tmp_path):
    """A writable copy of the shipped corpus."""
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest)
    return dest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TagCollector(HTMLParser):
    """The tags and attribute names in a piece of HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs.update(name for name, _ in attrs)


def tags_of(html: str) -> tuple[set[str], set[str]]:
    c = TagCollector()
    c.feed(html)
    return c.tags, c.attrs


def benchmark_data(name: str) -> Path:
    """A benchmark's data folder (``eval.datasets``: ``../shared/benchmarks`` beside the checkout, or
    ``$RAGBOT_BENCHMARKS_DIR``); the test is skipped, naming the place looked at, when it is not there."""
    from eval.datasets import benchmark_dir
    from rag.errors import InputError

    try:
        return benchmark_dir(name)
    except InputError as exc:
        pytest.skip(str(exc))


def write_abstracts(folder: Path, n: int) -> Path:
    """The first ``n`` SciFact abstracts as one .txt file each (title line, then the text)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(benchmark_data("scifact") / "corpus.jsonl", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i >= n:
                break
            d = json.loads(line)
            (folder / f"{d['_id']}.txt").write_text(f"{d['title']}\n{d['text']}\n", encoding="utf-8")
    return folder
