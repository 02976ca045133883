"""The chain with the real embedding model, the real GGUF model, and a real OpenAI-compatible server."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from ingest.pipeline import ingest
from rag import build_chain
from rag.answer.generators import default_gguf_path
from rag.settings import Settings
from rag.text import CITATION, numbers, proper_names

from .conftest import ROOT, free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def index(tmp_path_factory, real_embeddings):
    folder = tmp_path_factory.mktemp("index")
    settings = Settings(persist_dir=str(folder / "chroma"), collection="essay")
    ingest([ROOT / "data" / "corpus"], settings, embeddings=real_embeddings)
    return settings


@pytest.fixture(scope="module")
def extractive(index, real_embeddings):
    return build_chain(index, embeddings=real_embeddings)


@pytest.mark.parametrize(
    "question, expected",
    [
        ("Who came up with the idea of soft power?", "Joseph Nye"),
        ("What are the main tasks of peacekeeping missions?", "Protection of civilians"),
        ("Which regime has Russia supported in the Middle East?", "Assad"),
    ],
)
def test_extractive_answers_with_exact_spans(extractive, question, expected):
    a = extractive.invoke({"question": question})
    assert not a.refused, a.support
    assert expected in a.answer
    text = (ROOT / "data" / "corpus" / "political-impact-of-military-diplomacy.txt").read_text()
    for c in a.citations:
        assert text[c.start : c.end] == c.quote  # a reader finds the exact span in the file
        assert f"[{c.n}]" in a.answer


@pytest.mark.parametrize(
    "question",
    ["What year did NATO hold its first joint exercise with Japan?", "How many troops does the United States station in South Korea?"],
)
def test_unanswerable_questions_are_refused(extractive, question):
    a = extractive.invoke({"question": question})
    assert a.refused, (a.answer, a.support)


def test_follow_up_uses_history(extractive):
    a = extractive.invoke({"question": "Who coined that term?", "history": [["What is soft power?", "Soft power is the ability to influence others through attraction [1]."]]})
    assert "Nye" in a.answer


def test_list_question_quotes_the_section_it_runs_through(extractive):
    a = extractive.invoke({"question": "What are the main criticisms of military diplomacy?"})
    assert not a.refused
    for item in ("militarization", "weaker states", "social services"):  # one paragraph each, over two chunks
        assert item in a.answer
    assert len({c.chunk_id for c in a.citations}) >= 2


def test_question_naming_a_section_is_answered_from_it(extractive):
    a = extractive.invoke({"question": "In the section on the economic dimension, what often accompanies military diplomacy activities?"})
    assert "defense contracts" in a.answer
    assert {c.section for c in a.citations} == {"The Economic Dimension of Military Diplomacy"}


def test_follow_up_asking_a_detail_the_essay_lacks_is_refused(extractive):
    history = [["Who coined the term soft power?", "Soft power, a term coined by Joseph Nye, refers to the ability to influence others through attraction [1]."]]
    a = extractive.invoke({"question": "Which university did he teach at?", "history": history})
    assert a.refused, (a.answer, a.support)


def test_retriever_sections_in_reading_order(index, real_embeddings):
    from rag.retrieval import build_retriever

    r = build_retriever(index, real_embeddings)
    key = ("political-impact-of-military-diplomacy.txt", "Future Trends in Military Diplomacy and Political Impact")
    assert key in r.sections()
    qvec = real_embeddings.encode(["future trends"])[0]
    parts = r.section(*key, query=qvec)
    assert len(parts) >= 2 and [p.start for p in parts] == sorted(p.start for p in parts)
    assert parts[0].text.startswith("Future Trends") and all(0 < p.score <= 1 for p in parts)


def test_cli_ask_json_shape(index):
    r = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", "Who coined the term soft power?", "--json", "--persist-dir", index.persist_dir, "--collection", index.collection],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert set(d) >= {"question", "standalone_question", "answer", "refused", "mode", "citations", "retrieved", "timings_ms"}
    assert set(d["citations"][0]) >= {"n", "chunk_id", "source", "section", "quote", "start", "end", "score"}
    assert d["citations"][0]["source"] == "political-impact-of-military-diplomacy.txt"


def _assert_verified(answer):
    """Whatever the model wrote, every kept sentence's names and numbers are in the passage it cites."""
    by_id = {p.chunk_id: p for p in answer.retrieved}
    for c in answer.citations:
        passage = by_id[c.chunk_id].text
        assert c.quote in passage
    for name in proper_names(answer.answer):
        assert any(name.lower() in p.text.lower() for p in answer.retrieved), name
    for n in numbers(CITATION.sub("", answer.answer)):
        assert any(n in p.text for p in answer.retrieved), n


def test_local_gguf_model_answers_verified(index, real_embeddings):
    settings = index.replace(mode="local")
    chain = build_chain(settings, embeddings=real_embeddings)
    parts = list(chain.stream({"question": "Who coined the term soft power?"}))
    answer = parts[-1]
    assert answer.mode == "local" and not answer.refused
    assert answer.support.get("generated") is not None  # the model really ran
    assert "Nye" in answer.answer
    _assert_verified(answer)


@pytest.fixture(scope="module")
def llama_server():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf_path()), "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("llama_cpp.server exited")
            time.sleep(0.5)
    yield port, proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)


def test_openai_mode_against_llama_cpp_server(index, real_embeddings, llama_server):
    port, _ = llama_server
    settings = index.replace(mode="openai", openai_base_url=f"http://127.0.0.1:{port}/v1")
    chain = build_chain(settings, embeddings=real_embeddings)
    answer = chain.invoke({"question": "What does military diplomacy include?"})
    assert answer.mode == "openai" and not answer.refused
    assert answer.support.get("generated")  # text came back from the server
    _assert_verified(answer)


def test_openai_server_down_falls_back_with_notice(index, real_embeddings):
    settings = index.replace(mode="openai", openai_base_url=f"http://127.0.0.1:{free_port()}/v1", llm_timeout=5)
    answer = build_chain(settings, embeddings=real_embeddings).invoke({"question": "Who coined the term soft power?"})
    assert "extractive" in answer.notice and "Nye" in answer.answer
