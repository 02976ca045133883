"""Load: the real app on loopback (real chain, extractive, shipped corpus) serving 20 concurrent sessions via gradio_client.

Bounded and counted: 20 clients x 5 questions, then 10 clients x 20 questions for memory. Every request must
be answered (or get a clear busy message), no session may see another's history, and the process's RSS
must not grow without bound. Figures are printed; only a generous memory bound is asserted, never timing.
"""
from __future__ import annotations

import re
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")

from ingest.pipeline import ingest  # noqa: E402
from rag import build_chain  # noqa: E402
from rag.settings import Settings  # noqa: E402
from ui.app import create_app, launch_app  # noqa: E402

from .conftest import CORPUS, free_port  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore:.*(no_silent_downcasting|copy keyword).*")]

QUESTIONS = [
    "Who coined the term soft power",
    "What does it refer to",
    "What are the main tasks of a peacekeeping operation",
    "How do bilateral military engagements differ from multilateral ones",
    "How many member states does NATO currently have",
]
TAG = re.compile(r"\(reader (\d+)\)")
BUSY = re.compile(r"(?i)busy|queue is full|too many")


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class RecordingChain:
    """The real chain, recording the question and history of every call (to detect history leaks)."""

    def __init__(self, chain):
        self.chain = chain
        self.calls: list[tuple[str, list]] = []
        self._lock = threading.Lock()

    def stream(self, payload):
        with self._lock:
            self.calls.append((payload["question"], [list(t) for t in payload.get("history") or []]))
        yield from self.chain.stream(payload)

    def invoke(self, payload):
        return self.chain.invoke(payload)


@pytest.fixture(scope="module")
def served(tmp_path_factory, real_embeddings):
    tmp = tmp_path_factory.mktemp("load")
    corpus = tmp / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = Settings(persist_dir=str(tmp / "chroma"), collection="load", corpus_dir=str(corpus))
    ingest([corpus], settings, embeddings=real_embeddings)
    chain = RecordingChain(build_chain(settings, embeddings=real_embeddings))
    demo = create_app(settings, lambda s: chain, feedback_path=tmp / "fb.jsonl", ingest_on_start=False, examples=[])
    port = free_port()
    launch_app(demo, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield {"url": f"http://127.0.0.1:{port}/", "chain": chain}
    finally:
        demo.close()


def _text(message: dict) -> str:
    c = message["content"]
    if isinstance(c, list):
        return " ".join(part.get("text", "") for part in c if isinstance(part, dict))
    return str(c)


def _session(url: str, reader: int, questions: list[str], results: dict) -> None:
    client = gradio_client.Client(url, verbose=False, analytics_enabled=False, download_files=False)
    asked: list[str] = []
    for q in questions:
        q = f"{q} (reader {reader})?"
        try:
            _, messages, panel = client.predict(q, "extractive", 5, api_name="/ask")
        except Exception as exc:  # noqa: BLE001 - a busy server must say so
            results.setdefault("busy" if BUSY.search(str(exc)) else "failed", []).append((reader, str(exc)[:200]))
            continue
        asked.append(q)
        users = [_text(m) for m in messages if m["role"] == "user"]
        tags = {int(t) for u in users for t in TAG.findall(u.replace("\\", ""))}
        ok = tags == {reader} and len(users) == len(asked)
        last = _text(messages[-1]) if messages else ""
        answered = bool(last.strip()) and "Could not answer" not in last and ("rb-source" in panel or "rb-refusal" in panel)
        results.setdefault("answered" if answered else "unanswered", []).append((reader, last[:200]))
        if not ok:
            results.setdefault("leaks", []).append((reader, users))


def test_twenty_concurrent_sessions_then_memory_stays_flat(served):
    url, chain = served["url"], served["chain"]
    results: dict[str, list] = {}
    # warm-up: one full session before measuring memory
    _session(url, 999, QUESTIONS, results)
    rss_warm = rss_mb()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(20) as pool:
        for f in [pool.submit(_session, url, r, QUESTIONS, results) for r in range(20)]:
            f.result()
    t_concurrent = time.perf_counter() - t0
    rss_after_concurrent = rss_mb()

    # history isolation, as the chain saw it: every call's history holds only its own reader's earlier turns
    for question, history in chain.calls:
        (reader,) = TAG.findall(question)
        for user, _ in history:
            assert TAG.findall(user) == [reader], (question, history)
    n_concurrent = 20 * len(QUESTIONS)
    answered = len(results.get("answered", [])) - len(QUESTIONS)
    busy = len(results.get("busy", []))
    assert not results.get("failed"), results.get("failed")[:3]
    assert not results.get("unanswered"), results.get("unanswered")[:3]
    assert not results.get("leaks"), results.get("leaks")[:3]
    assert answered + busy == n_concurrent and answered > 0

    # memory: 200 more requests in fresh sessions of 20 questions each, 10 at a time
    more = (QUESTIONS * 4)
    t1 = time.perf_counter()
    with ThreadPoolExecutor(10) as pool:
        for f in [pool.submit(_session, url, 100 + r, more, results) for r in range(10)]:
            f.result()
    t_memory = time.perf_counter() - t1
    rss_end = rss_mb()
    total = len(chain.calls)
    print(
        f"\nload: {n_concurrent} requests from 20 concurrent sessions in {t_concurrent:.1f} s "
        f"({answered} answered, {busy} busy); {total} requests in all; memory phase {10 * len(more)} requests in {t_memory:.1f} s; "
        f"RSS warm {rss_warm:.0f} MB, after concurrent {rss_after_concurrent:.0f} MB, end {rss_end:.0f} MB"
    )
    assert not results.get("failed") and not results.get("leaks") and not results.get("unanswered")
    assert total >= 300
    assert rss_end < 1.5 * rss_warm, (rss_warm, rss_end)
